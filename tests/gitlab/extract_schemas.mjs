// Extracts the response schemas that npm @gitbeaker/core (a maintained GitLab API client)
// declares in its TypeScript types, as field-name lists the GitLab fixtures are checked against:
//   node tests/gitlab/extract_schemas.mjs <path/to/@gitbeaker/core/dist/index.d.ts> <out.json>
// Every `interface X extends … { … }` and `type X = MappedOmit<Y, …> | Pick<Y, …> | Omit<Y, …> | Y`
// is resolved to the names of its top-level members, inherited ones included
// (`Record<string, unknown>` adds none). Nested object types are not descended into: fixtures
// name the schema of each nested object explicitly.
import { readFileSync, writeFileSync } from "node:fs";

const [, , input, output] = process.argv;
if (!input || !output) {
  console.error("usage: extract_schemas.mjs <index.d.ts> <out.json>");
  process.exit(2);
}
const src = readFileSync(input, "utf8");

// Splits `a, B<c, d>, e` on top-level commas.
function splitTop(s, sep = ",") {
  const out = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if ("<({[".includes(ch)) depth++;
    if (">)}]".includes(ch)) depth--;
    if (ch === sep && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const interfaces = new Map(); // name -> { bases: [string], own: [string] }
const aliases = new Map(); // name -> type expression
const ifaceRe = /^(?:export )?(?:declare )?interface (\w+)(?:<[^>{]*>)?(?: extends ([^{]+))?\{/gm;
let m;
while ((m = ifaceRe.exec(src))) {
  const [, name, bases] = m;
  let i = ifaceRe.lastIndex;
  let depth = 1;
  let body = "";
  const own = [];
  let line = "";
  for (; i < src.length && depth > 0; i++) {
    const ch = src[i];
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (depth === 0) break;
    if (ch === "\n") {
      line = "";
      continue;
    }
    line += ch;
    // A member starts a line at depth 1: `name?: type` or `'quoted-name': type`.
    if (depth === 1 && ch === ":" ) {
      const mm = /^\s*(?:readonly\s+)?(?:'([^']+)'|"([^"]+)"|(\w+))\??\s*:$/.exec(line);
      if (mm) own.push(mm[1] ?? mm[2] ?? mm[3]);
    }
    body += ch;
  }
  interfaces.set(name, { bases: bases ? splitTop(bases.trim()) : [], own });
}
const aliasRe = /^(?:export )?(?:declare )?type (\w+)(?:<[^=]*>)? = ([^;]+);/gm;
while ((m = aliasRe.exec(src))) aliases.set(m[1], m[2].trim());

const keysOf = (s) => [...s.matchAll(/'([^']+)'/g)].map((x) => x[1]);

const cache = new Map();
function fields(expr, seen = new Set()) {
  expr = expr.trim();
  if (cache.has(expr)) return cache.get(expr);
  if (seen.has(expr)) return null;
  seen.add(expr);
  let out = null;
  let g;
  if (/^Record<string, unknown>$/.test(expr)) out = [];
  else if ((g = /^(MappedOmit|Omit|Pick)<(.*)>$/s.exec(expr))) {
    const [base, keys] = splitTop(g[2]);
    const baseFields = fields(base, seen);
    if (baseFields) {
      const k = keysOf(keys);
      out = g[1] === "Pick" ? baseFields.filter((f) => k.includes(f)) : baseFields.filter((f) => !k.includes(f));
    }
  } else if (interfaces.has(expr)) {
    const { bases, own } = interfaces.get(expr);
    const all = new Set();
    let ok = true;
    for (const b of bases) {
      const bf = fields(b, seen);
      if (bf === null) ok = false;
      else bf.forEach((f) => all.add(f));
    }
    own.forEach((f) => all.add(f));
    out = ok ? [...all] : null;
  } else if (aliases.has(expr)) {
    out = fields(aliases.get(expr), seen);
  }
  seen.delete(expr);
  if (out) cache.set(expr, out);
  return out;
}

const schemas = {};
const unresolved = [];
for (const name of [...interfaces.keys(), ...aliases.keys()]) {
  if (!/(Schema|RunnerToken)$/.test(name)) continue;
  const f = fields(name);
  if (f) schemas[name] = [...new Set(f)].sort();
  else unresolved.push(name);
}
const version = JSON.parse(readFileSync(new URL("../package.json", "file://" + input), "utf8")).version;
writeFileSync(output, JSON.stringify({ source: `@gitbeaker/core@${version}`, schemas }, null, 1));
console.error(`extract_schemas: ${Object.keys(schemas).length} schemas from @gitbeaker/core@${version} (${unresolved.length} unresolved)`);
