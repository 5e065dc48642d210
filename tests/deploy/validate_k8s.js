// Validates Kubernetes objects (multi-document YAML files, e.g. `kubectl
// kustomize` output) two ways:
//  1. at run time, each object against its kind's OpenAPI schema
//     (kubernetes-models, @kubernetes-models/prometheus-operator: .validate());
//  2. with TypeScript, each object as a literal of its kind's interface, so a
//     field the schema does not know (a typo such as `readinessprobe`, which
//     the run-time check lets through) is an error (excess property check).
// Usage: node validate_k8s.js TS_OUT_DIR FILE.yaml...   (NODE_PATH = the tools'
// node_modules). Prints one line per object; exit 1 on any error.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

const [outDir, ...files] = process.argv.slice(2);
const modulesDir = process.env.NODE_PATH;
let failures = 0;
const ts = [];
let n = 0;

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com")
    return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return `kubernetes-models/${group ? group + "/" : ""}${version}/${kind}`;
}

for (const file of files) {
  for (const obj of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
    if (!obj) continue;
    const name = `${path.basename(file, ".yaml")}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
    const mod = modulePath(obj.apiVersion, obj.kind);
    let Model;
    try {
      Model = require(mod)[obj.kind];
    } catch (e) {
      console.log(`FAIL ${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
      failures++;
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`ok   ${name} (${obj.apiVersion})`);
    } catch (e) {
      console.log(`FAIL ${name}: ${e.message}`);
      failures++;
    }
    const id = `o${n++}`;
    ts.push(`import type { I${obj.kind} as T${id} } from "${mod}";`);
    ts.push(`// ${name}\nexport const ${id}: T${id} = ${JSON.stringify(obj, null, 2)};`);
  }
}
fs.writeFileSync(path.join(outDir, "objects.ts"), ts.join("\n") + "\n");
fs.writeFileSync(path.join(outDir, "tsconfig.json"), JSON.stringify({
  compilerOptions: {
    strict: true, noEmit: true, skipLibCheck: true, module: "commonjs", target: "es2020",
    moduleResolution: "node", typeRoots: [], baseUrl: ".", paths: { "*": [modulesDir + "/*"] },
  },
  files: ["objects.ts"],
}, null, 2));
process.exit(failures ? 1 : 0);
