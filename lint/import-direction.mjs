/**
 * `crucible/import-direction`: every import of a workspace package follows lint/import-graph.mjs.
 *
 * A local rule rather than `no-restricted-imports` per folder: it denies by default (a package
 * missing from the graph, or an edge not listed, is an error), and it also sees what that rule
 * does not — dynamic `import()`, `require`/`require.resolve`, `import('…')` types, and relative
 * paths that reach into another package's folder.
 */
import { isBuiltin } from 'node:module';
import { dirname, resolve } from 'node:path';
import { IMPORT_GRAPH, allowedImports, isTestFile, packageOfSpecifier, unitOfFile } from './import-graph.mjs';

const WHY = 'README, "Who may import whom"; lint/import-graph.mjs';

/** @type {import('eslint').Rule.RuleModule} */
export const importDirection = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports between workspace packages follow lint/import-graph.mjs' },
    schema: [],
    messages: {
      unknownUnit: '{{unit}} is not in lint/import-graph.mjs: say there what it may import.',
      forbidden: '{{unit}} may not import {{target}}: it may import {{allowed}} ({{why}}).',
      byPath: '"{{specifier}}" reaches into {{target}} by path: import it by its package name.',
      builtin: '{{unit}} runs in the browser: no Node built-in module "{{specifier}}" ({{why}}).',
      external: '{{unit}} may import no npm package but {{externals}}, not "{{specifier}}" ({{why}}).',
    },
  },
  create(context) {
    const file = context.filename;
    const unit = unitOfFile(file);
    if (!unit) return {};
    const entry = IMPORT_GRAPH[unit.name];
    if (!entry) {
      return {
        Program(node) {
          context.report({ node, messageId: 'unknownUnit', data: { unit: unit.name } });
        },
      };
    }
    const allowed = allowedImports(unit.name, unit.path);
    const product = !isTestFile(unit.path);

    /** @param {import('estree').Node} node  @param {unknown} specifier */
    function check(node, specifier) {
      if (typeof specifier !== 'string') return;
      const data = { unit: unit.name, specifier, why: WHY };
      if (specifier.startsWith('.')) {
        const target = unitOfFile(resolve(dirname(file), specifier));
        if (target && target.name !== unit.name) {
          context.report({ node, messageId: 'byPath', data: { ...data, target: target.name } });
        }
        return;
      }
      const name = packageOfSpecifier(specifier);
      if (name?.startsWith('@crucible/')) {
        if (name !== unit.name && !allowed.has(name)) {
          const list = [...allowed].join(', ') || 'nothing of ours';
          context.report({ node, messageId: 'forbidden', data: { ...data, target: name, allowed: list } });
        }
        return;
      }
      if (!product) return;
      if (entry.browser && (specifier.startsWith('node:') || isBuiltin(specifier))) {
        context.report({ node, messageId: 'builtin', data });
      } else if (entry.externals && name && !entry.externals.includes(name)) {
        context.report({
          node,
          messageId: 'external',
          data: { ...data, externals: entry.externals.join(', ') },
        });
      }
    }

    /** @param {any} node  a node whose `source` is the specifier's literal, if it has one */
    const checkSource = (node) => node.source && check(node.source, node.source.value);
    return {
      ImportDeclaration: checkSource,
      ExportAllDeclaration: checkSource,
      ExportNamedDeclaration: checkSource,
      ImportExpression: checkSource,
      TSImportType(node) {
        const literal = node.argument?.literal ?? node.argument;
        check(node, literal?.value);
      },
      TSExternalModuleReference(node) {
        check(node, node.expression.value);
      },
      CallExpression(node) {
        const callee = node.callee;
        const isRequire =
          (callee.type === 'Identifier' && callee.name === 'require') ||
          (callee.type === 'MemberExpression' &&
            callee.object.type === 'Identifier' &&
            callee.object.name === 'require' &&
            callee.property.type === 'Identifier' &&
            callee.property.name === 'resolve');
        if (isRequire && node.arguments[0]?.type === 'Literal') check(node, node.arguments[0].value);
      },
    };
  },
};
