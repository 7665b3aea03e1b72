/**
 * A problem the user can fix or should know about. Its message is shown to them as is, so it
 * must be polite, plain and free of secrets; anything else is an internal error, logged with a
 * reference the user can quote.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}
