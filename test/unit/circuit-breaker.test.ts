import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CircuitBreaker, type BreakerTicket } from '../../src/pika/circuit-breaker.js';

const COOL_DOWN_MS = 1000;

/** A breaker in this process, on a clock the test moves. */
function breaker(threshold = 3) {
  let clock = 1_000_000;
  const subject = new CircuitBreaker({ threshold, coolDownMs: COOL_DOWN_MS, now: () => clock });
  return {
    breaker: subject,
    advance(ms: number) {
      clock += ms;
    },
    /** `n` commands admitted one after the other, each failing for the service's sake. */
    async fail(n: number) {
      for (let i = 0; i < n; i++) (await admitted(subject)).failed(true);
    },
  };
}

async function admitted(subject: CircuitBreaker): Promise<BreakerTicket> {
  const ticket = await subject.admit();
  assert.ok(ticket, 'expected the command to be let through');
  return ticket;
}

describe('the circuit breaker in one process', () => {
  test('closed, it lets commands through, none of them a probe', async () => {
    const { breaker: subject } = breaker();
    assert.equal(subject.state, 'closed');
    assert.equal(subject.retryAt, null);
    const tickets = await Promise.all([subject.admit(), subject.admit()]);
    assert.deepEqual(tickets.map((ticket) => ticket?.probe), [false, false]);
  });

  test('it answers at once, closed, open or probing: nothing to wait for in this process', async () => {
    const { breaker: subject, fail, advance } = breaker(1);
    const answers = [subject.admit()];
    await fail(1);
    answers.push(subject.admit());
    advance(COOL_DOWN_MS);
    answers.push(subject.admit());
    assert.deepEqual(
      answers.map((answer) => (answer instanceof Promise ? 'promise' : answer === null ? 'refused' : answer.probe ? 'probe' : 'pass')),
      ['pass', 'refused', 'probe'],
    );
  });

  test('threshold failures in a row open it: commands are refused, and told when to try again', async () => {
    const { breaker: subject, fail } = breaker(3);
    await fail(2);
    assert.equal(subject.state, 'closed', 'two failures are not enough');
    await fail(1);
    assert.equal(subject.state, 'open');
    assert.equal(await subject.admit(), null);
    assert.equal(subject.retryAt, 1_000_000 + COOL_DOWN_MS);
  });

  test('a success between failures starts the count again; so does a refusal of the request itself', async () => {
    const { breaker: subject, fail } = breaker(3);
    await fail(2);
    (await admitted(subject)).succeeded();
    await fail(2);
    (await admitted(subject)).failed(false);
    await fail(2);
    assert.equal(subject.state, 'closed');
  });

  test('after the cool-down exactly one command is the probe; its success closes the breaker', async () => {
    const { breaker: subject, fail, advance } = breaker(1);
    await fail(1);
    advance(COOL_DOWN_MS - 1);
    assert.equal(await subject.admit(), null, 'still cooling down');
    advance(1);
    assert.equal(subject.state, 'half-open');
    const [probe, other] = await Promise.all([subject.admit(), subject.admit()]);
    assert.equal(probe?.probe, true);
    assert.equal(other, null, 'only one probe at a time');
    probe!.succeeded();
    assert.equal(subject.state, 'closed');
    assert.equal((await admitted(subject)).probe, false);
  });

  test('a probe that fails opens it again for a full cool-down', async () => {
    const { breaker: subject, fail, advance } = breaker(5);
    await fail(5);
    advance(COOL_DOWN_MS);
    (await admitted(subject)).failed(true);
    assert.equal(subject.state, 'open');
    advance(COOL_DOWN_MS - 1);
    assert.equal(await subject.admit(), null);
    advance(1);
    assert.equal((await admitted(subject)).probe, true);
  });

  test('a probe released unused lets the next command be the probe', async () => {
    const { breaker: subject, fail, advance } = breaker(1);
    await fail(1);
    advance(COOL_DOWN_MS);
    const probe = await admitted(subject);
    assert.equal(await subject.admit(), null);
    probe.release();
    assert.equal((await admitted(subject)).probe, true);
  });

  test('a ticket counts once, however many times it is settled', async () => {
    const { breaker: subject } = breaker(2);
    const ticket = await admitted(subject);
    ticket.failed(true);
    ticket.failed(true);
    ticket.succeeded();
    assert.equal(subject.state, 'closed');
    (await admitted(subject)).failed(true);
    assert.equal(subject.state, 'open', 'the first ticket counted one failure, the second made two');
    await subject.reported();
  });
});
