/**
 * Lists every function, arrow function and method in src/ (src/gen excluded) longer than N lines, longest first,
 * and exits 1 when there is one. A function's length is its node's span, first line to last line inclusive, nested
 * functions counted in it (so a 200-line factory of small closures still counts as 200).
 *
 *   node --import tsx scripts/lib/function-lengths.ts [maxLines=150] [root=src]
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

export interface LongFunction {
  file: string;
  line: number;
  name: string;
  lines: number;
}

/** Every function-like node in the .ts files under `root` (skipping `root/gen`) longer than `maxLines`. */
export function longFunctions(root: string, maxLines: number): LongFunction[] {
  const found: LongFunction[] = [];
  for (const file of sourceFiles(root)) {
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (isFunctionLike(node)) {
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = last - first + 1;
        if (lines > maxLines)
          found.push({ file: relative(process.cwd(), file), line: first + 1, name: nameOf(node), lines });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found.sort((a, b) => b.lines - a.lines);
}

function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(root, "gen") && entry.name !== "node_modules") walk(path);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        files.push(path);
      }
    }
  };
  walk(root);
  return files.sort();
}

function isFunctionLike(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

/** The function's own name, else the name it is bound to (`const f = () => …`, `{ f: () => … }`). */
function nameOf(node: ts.FunctionLikeDeclaration): string {
  if (node.name) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) && parent.name) {
    return parent.name.getText();
  }
  return "<anonymous>";
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const maxLines = Number(process.argv[2] ?? 150);
  const root = process.argv[3] ?? "src";
  const long = longFunctions(root, maxLines);
  for (const f of long) console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line}  ${f.name}`);
  console.log(
    long.length === 0 ? `no function in ${root}/ is over ${maxLines} lines` : `${long.length} over ${maxLines} lines`,
  );
  process.exit(long.length === 0 ? 0 : 1);
}
