// Writes a TypeScript file that type-checks a Grafana dashboard JSON against
// @grafana/schema: the whole dashboard `satisfies Dashboard`, and each panel's
// options and custom field config `satisfies` its panel type's own Options and
// FieldConfig (excess-property checks catch fields Grafana does not know).
// Usage: node grafana_typecheck.js DASHBOARD.json OUT_DIR   (then tsc -p OUT_DIR)
"use strict";
const fs = require("fs");
const path = require("path");
const [file, outDir] = process.argv.slice(2);
const dash = JSON.parse(fs.readFileSync(file, "utf8"));
const noFieldConfig = new Set(["stat"]);  // its module exports no FieldConfig
const cfg = {  // panel type -> its panelcfg module in @grafana/schema
  table: "table/panelcfg/x/TablePanelCfg_types.gen",
  timeseries: "timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen",
  stat: "stat/panelcfg/x/StatPanelCfg_types.gen",
  "state-timeline": "statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen",
};
const out = [
  'import type { Dashboard } from "@grafana/schema";',
  // JSON holds an enum's value, not the enum: compare string enums by their
  // values (`${E}` is the union of an enum's string values); keep the rest.
  "type Json<T> = T extends string ? `${T}` : T extends number | boolean | null | undefined ? T :",
  "  T extends Array<infer U> ? Array<Json<U>> : T extends object ? { [K in keyof T]: Json<T[K]> } : T;",
];
const used = new Set();
const checks = [];
let unknown = [];
for (const p of dash.panels) {
  if (p.type === "row") continue;
  if (!cfg[p.type]) { unknown.push(p.type); continue; }
  const ns = p.type.replace(/-/g, "_");
  used.add(p.type);
  checks.push(`// panel ${p.id}: ${p.title}`);
  checks.push(`export const options_${p.id} = ${JSON.stringify(p.options)} satisfies Json<${ns}.Options>;`);
  const custom = (p.fieldConfig && p.fieldConfig.defaults && p.fieldConfig.defaults.custom) || {};
  if (!noFieldConfig.has(p.type))
    checks.push(`export const custom_${p.id} = ${JSON.stringify(custom)} satisfies Json<${ns}.FieldConfig>;`);
}
for (const t of used)
  out.push(`import type * as ${t.replace(/-/g, "_")} from "@grafana/schema/dist/esm/raw/composable/${cfg[t]}";`);
out.push(`export const dashboard = ${JSON.stringify(dash, null, 2)} satisfies Json<Dashboard>;`);
fs.writeFileSync(path.join(outDir, "dashboard.ts"), out.concat(checks).join("\n") + "\n");
fs.writeFileSync(path.join(outDir, "tsconfig.json"), JSON.stringify({
  compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, module: "esnext", target: "es2022",
                     moduleResolution: "bundler", types: [] },
  files: ["dashboard.ts"],
}, null, 2));
if (unknown.length) { console.error(`panel types without a schema here: ${unknown.join(", ")}`); process.exit(1); }
