// No promise in app/ or hal/ is left floating (the hardening issue): a rejection nobody handles ends the process.
// This walks the type-checked program and reports every promise that is neither awaited, returned, stored, passed
// on, nor given a rejection handler (`.catch(f)` or `.then(f, g)`) where it is made: `void p` does not count, and
// neither does an async callback handed to something that ignores what it returns (an event handler, a timer).
// Run: bun scripts/floating-promises.ts (exit 1 and one line per finding); test/lint/floating-promises.test.ts.
import ts from "typescript";
import { dirname, join, relative } from "node:path";

export interface Finding {
  file: string;
  line: number;
  text: string;
  why: string;
}

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");

/** Every finding in the files under `dirs` (relative to the project root) of the program `tsconfig` describes. */
export function floatingPromises(tsconfig: string, dirs: string[]): Finding[] {
  const configPath = join(ROOT, tsconfig);
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!parsed) throw new Error(`cannot read ${tsconfig}`);
  const inside = (f: string) => dirs.some((d) => relative(join(ROOT, d), f).split("/")[0] !== "..");
  const roots = parsed.fileNames.filter(inside);
  const program = ts.createProgram(roots, parsed.options);
  const checker = program.getTypeChecker();
  const findings: Finding[] = [];
  for (const sf of program.getSourceFiles()) {
    if (sf.isDeclarationFile || !inside(sf.fileName) || sf.fileName.includes("/node_modules/")) continue;
    const report = (node: ts.Node, why: string) => {
      const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
      findings.push({ file: relative(ROOT, sf.fileName), line: line + 1, text: node.getText(sf).split("\n")[0]!.slice(0, 120), why });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isExpressionStatement(node)) checkStatement(node.expression, report);
      else if (ts.isVoidExpression(node) && !ts.isExpressionStatement(node.parent)) checkVoid(node, report);
      else if ((ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && returnsPromise(node) && expectsVoid(node)) {
        if (!(ts.isArrowFunction(node) && !ts.isBlock(node.body) && handled(node.body))) {
          report(node, "an async callback where the caller ignores what it returns: its rejection would float");
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return findings;

  function checkStatement(expr: ts.Expression, report: (n: ts.Node, why: string) => void): void {
    const e = unwrap(expr);
    if (ts.isVoidExpression(e)) return checkVoid(e, report);
    if (ts.isBinaryExpression(e) && e.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && e.operatorToken.kind <= ts.SyntaxKind.LastAssignment) return;
    if (thenable(e) && !handled(e)) report(e, "a promise neither awaited, returned nor caught");
  }

  function checkVoid(e: ts.VoidExpression, report: (n: ts.Node, why: string) => void): void {
    const inner = unwrap(e.expression);
    if (thenable(inner) && !handled(inner)) report(e, "`void` of a promise with no rejection handler");
  }

  /** Handled where it is made: `.catch(f)`, `.then(f, g)`, or `.finally(f)` of a handled promise. */
  function handled(expr: ts.Expression): boolean {
    const e = unwrap(expr);
    if (!ts.isCallExpression(e) || !ts.isPropertyAccessExpression(e.expression)) return false;
    const name = e.expression.name.text;
    if (name === "catch") return e.arguments.length >= 1;
    if (name === "then") return e.arguments.length >= 2;
    if (name === "finally") return handled(e.expression.expression);
    return false;
  }

  function thenable(node: ts.Node): boolean {
    return isThenableType(checker.getTypeAtLocation(node));
  }

  function isThenableType(type: ts.Type): boolean {
    if (type.isUnion()) return type.types.some(isThenableType);
    const then = type.getProperty("then");
    if (!then) return false;
    return checker.getTypeOfSymbol(then).getCallSignatures().length > 0;
  }

  function returnsPromise(fn: ts.ArrowFunction | ts.FunctionExpression): boolean {
    const sig = checker.getSignatureFromDeclaration(fn);
    return sig !== undefined && isThenableType(checker.getReturnTypeOfSignature(sig));
  }

  /** The function is passed or assigned where a function returning void is expected. */
  function expectsVoid(fn: ts.ArrowFunction | ts.FunctionExpression): boolean {
    const contextual = checker.getContextualType(fn);
    if (!contextual) return false;
    const sigs = (contextual.isUnion() ? contextual.types : [contextual]).flatMap((t) => t.getCallSignatures());
    return sigs.length > 0 && sigs.every((s) => checker.getReturnTypeOfSignature(s).flags & ts.TypeFlags.Void);
  }
}

function unwrap(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
  return e;
}

/** The product's code: the server and hardware layers, and the browser UI under its own tsconfig. */
export function productFindings(): Finding[] {
  return [...floatingPromises("tsconfig.json", ["app", "hal"]), ...floatingPromises("app/ui/tsconfig.json", ["app/ui"])];
}

if (import.meta.main) {
  const found = productFindings();
  for (const f of found) console.log(`${f.file}:${f.line}: ${f.why}: ${f.text}`);
  if (found.length > 0) {
    console.error(`${found.length} floating promise(s)`);
    process.exit(1);
  }
  console.log("no floating promises");
}
