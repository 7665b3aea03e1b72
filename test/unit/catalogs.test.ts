import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { enUS } from '../../src/i18n/en-US.js';
import { LOCALES, messagesFor } from '../../src/i18n/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CATALOG_FILES = { 'en-US': 'src/i18n/en-US.ts', 'zh-CN': 'src/i18n/zh-CN.ts' } as const;

/**
 * The placeholders of every message in a catalog file, read from its source: the names a
 * message's parameter object destructures (`({ count, retry }) => …`). Plain strings have none.
 */
function placeholdersIn(file: string): Map<string, string[]> {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const found = new Map<string, string[]>();
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))) {
      const value = node.initializer;
      if (ts.isArrowFunction(value) || ts.isFunctionExpression(value)) {
        const parameter = value.parameters[0]?.name;
        const names = parameter && ts.isObjectBindingPattern(parameter) ? parameter.elements.map((element) => (element.propertyName ?? element.name).getText(source)).sort() : [];
        found.set(node.name.text, names);
      } else if (ts.isStringLiteralLike(value) || ts.isTemplateExpression(value)) {
        found.set(node.name.text, []);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('the catalogs', () => {
  const english = Object.keys(enUS).sort();

  test('every language has exactly the keys of the English catalog', () => {
    for (const locale of LOCALES) assert.deepEqual(Object.keys(messagesFor(locale)).sort(), english, locale);
  });

  test('every message takes the same placeholders in every language', () => {
    const reference = placeholdersIn(CATALOG_FILES['en-US']);
    assert.deepEqual(english.filter((key) => !reference.has(key)), [], 'every English message is written out where the parser can read it');
    for (const [locale, file] of Object.entries(CATALOG_FILES)) {
      const placeholders = placeholdersIn(file);
      for (const key of english) {
        assert.deepEqual(placeholders.get(key), reference.get(key), `${locale} ${key}`);
      }
    }
  });

  test('no message is left unused', () => {
    const code = [...sourceFiles('src'), ...sourceFiles('commands'), ...sourceFiles('components')]
      .filter((file) => !file.startsWith(join('src', 'i18n')))
      .map((file) => readFileSync(join(ROOT, file), 'utf8'))
      .join('\n');
    const unused = english.filter((key) => !new RegExp(`\\b${key}\\b`).test(code));
    assert.deepEqual(unused, [], 'keys no code uses');
  });

  test('every message renders to non-empty text in every language', () => {
    for (const locale of LOCALES) {
      for (const [key, message] of Object.entries(messagesFor(locale)) as Array<[string, unknown]>) {
        if (typeof message === 'string') assert.ok(message.trim().length > 0, `${locale} ${key}`);
      }
    }
  });
});
