// Validates the manifests in deploy/ against the Kubernetes OpenAPI schemas shipped by the npm package
// kubernetes-models (no cluster needed):
//   npm install --prefix /tmp/k8sval kubernetes-models@5.1.0 js-yaml@4
//   NODE_PATH=/tmp/k8sval/node_modules node deploy/validate-manifests.mjs deploy/*.yaml
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(path.join(process.env.NODE_PATH ?? ".", "noop.js"));
const yaml = require("js-yaml");
// The package is ESM only: import its model classes by file.
const root = path.join(process.env.NODE_PATH ?? "node_modules", "kubernetes-models");
const load = async (group, kind) => (await import(pathToFileURL(path.join(root, group, `${kind}.js`)).href))[kind];
const models = {
  "apps/v1/Deployment": () => load("apps/v1", "Deployment"),
  "v1/Service": () => load("v1", "Service"),
  "v1/PersistentVolumeClaim": () => load("v1", "PersistentVolumeClaim"),
  "autoscaling/v2/HorizontalPodAutoscaler": () => load("autoscaling/v2", "HorizontalPodAutoscaler"),
  "batch/v1/Job": () => load("batch/v1", "Job"),
};

let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(readFileSync(file, "utf8")).filter(Boolean)) {
    const key = `${doc.apiVersion}/${doc.kind}`;
    const model = models[key];
    if (!model) {
      console.error(`${file}: ${key} has no schema here`);
      failed++;
      continue;
    }
    try {
      new (await model())(doc).validate();
      console.log(`${file}: ${key} ${doc.metadata?.name} valid`);
    } catch (e) {
      console.error(`${file}: ${key} ${doc.metadata?.name} INVALID: ${e.message}`);
      failed++;
    }
  }
}
process.exit(failed ? 1 : 0);
