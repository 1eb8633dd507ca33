// Extracts the subset of GitHub's OpenAPI description (npm @octokit/openapi) that the GitHub
// connector reads and remediates, for Prism to serve:
//   node tests/github/extract_spec.mjs <path/to/@octokit/openapi/generated/ghec.json> <out.json>
// Kept: the NHI paths below (all their methods) and the components they reach through `$ref`.
// Dropped: every other path, unreached components (some of GHEC's point at files that are not
// shipped, which Prism cannot resolve) and `x-webhooks`. Stripped: `Link` response
// headers, since Prism would answer each list with GitHub's *example* Link
// (`https://api.github.com/resource?page=2`); paging is tested with wiremock instead.
// GitHub Enterprise Cloud's description (ghec.json) is used because SAML credential
// authorizations exist only there; it is a superset of api.github.com's for these paths.
import { readFileSync, writeFileSync } from "node:fs";

export const NHI_PATHS = [
  "/app/installations/{installation_id}/access_tokens",
  "/orgs/{org}/installations",
  "/orgs/{org}/personal-access-tokens",
  "/orgs/{org}/credential-authorizations",
  "/orgs/{org}/repos",
  "/repos/{owner}/{repo}",
  "/repos/{owner}/{repo}/keys",
  "/orgs/{org}/actions/secrets",
  "/repos/{owner}/{repo}/actions/secrets",
  "/orgs/{org}/actions/runners",
  "/repos/{owner}/{repo}/actions/runners",
  "/orgs/{org}/actions/runner-groups",
  "/orgs/{org}/actions/runner-groups/{runner_group_id}/runners",
  "/orgs/{org}/hooks",
  "/orgs/{org}/actions/oidc/customization/sub",
  "/repos/{owner}/{repo}/actions/oidc/customization/sub",
  // Remediation: the live read of one item and the call that changes it.
  "/repos/{owner}/{repo}/keys/{key_id}",
  "/orgs/{org}/personal-access-tokens/{pat_id}",
  "/orgs/{org}/credential-authorizations/{credential_id}",
  "/orgs/{org}/actions/runners/{runner_id}",
  "/repos/{owner}/{repo}/actions/runners/{runner_id}",
  "/orgs/{org}/hooks/{hook_id}",
];

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: extract_spec.mjs <ghec.json> <out.json>");
  process.exit(2);
}
const spec = JSON.parse(readFileSync(input, "utf8"));
const paths = {};
for (const p of NHI_PATHS) {
  if (!spec.paths[p]) {
    console.error(`extract_spec: ${p} is not in ${input}`);
    process.exit(1);
  }
  paths[p] = spec.paths[p];
}
let stripped = 0;
for (const item of Object.values(paths)) {
  for (const op of Object.values(item)) {
    for (const response of Object.values(op?.responses ?? {})) {
      for (const name of Object.keys(response?.headers ?? {})) {
        if (name.toLowerCase() === "link") {
          delete response.headers[name];
          stripped++;
        }
      }
    }
  }
}
spec.paths = paths;
delete spec["x-webhooks"];

// Keep only the components reachable from the kept paths.
const reached = new Set();
const queue = [paths];
while (queue.length) {
  const node = queue.pop();
  if (Array.isArray(node)) {
    queue.push(...node);
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/")) {
        if (!reached.has(v)) {
          reached.add(v);
          const [, , kind, name] = v.split("/");
          const target = spec.components?.[kind]?.[name];
          if (target === undefined) {
            console.error(`extract_spec: dangling reference ${v}`);
            process.exit(1);
          }
          queue.push(target);
        }
      } else {
        queue.push(v);
      }
    }
  }
}
for (const [kind, entries] of Object.entries(spec.components ?? {})) {
  for (const name of Object.keys(entries)) {
    if (!reached.has(`#/components/${kind}/${name}`)) delete entries[name];
  }
}
writeFileSync(output, JSON.stringify(spec));
console.error(`extract_spec: ${NHI_PATHS.length} paths, ${reached.size} components, ${stripped} Link headers stripped -> ${output}`);
