import { readFile } from 'node:fs/promises';

/** A file of the project, as text. */
export const readProjectFile = (name: string) => readFile(new URL(`../../${name}`, import.meta.url), 'utf8');

/** The compose file's services, each as its own block of text (no YAML parser among the dependencies). */
export function composeServices(compose: string): Map<string, string> {
  const body = compose.split(/^services:\n/m)[1]!.split(/^\S/m)[0]!;
  const blocks = body.split(/^(?= {2}\w[\w-]*:\n)/m).filter((block) => block.trim());
  return new Map(blocks.map((block) => [block.trim().split(':')[0]!, block]));
}

/** A compose service's `environment:` mapping (`KEY: value` lines). */
export function composeEnvironment(service: string): Record<string, string> {
  const section = /^ {4}environment:\n((?: {6}.+\n)+)/m.exec(service)?.[1] ?? '';
  return Object.fromEntries(section.trim().split('\n').map((line) => line.trim().split(/:\s+/, 2) as [string, string]));
}

/** The final stage's CMD, as the argv it runs. */
export function imageCommand(dockerfile: string): string[] {
  const cmd = [...dockerfile.matchAll(/^CMD (\[.*\])$/gm)].at(-1);
  if (!cmd) throw new Error('the Dockerfile has no CMD in exec form');
  return JSON.parse(cmd[1]!) as string[];
}
