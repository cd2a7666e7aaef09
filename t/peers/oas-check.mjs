// t/peers/oas-check.mjs: docs/openapi.yaml against the handlers and against
// every response the API tests received, as TAP.  Test tooling, not
// product code; t/docs/openapi.t runs it.
//
// Usage: node t/peers/oas-check.mjs --spec docs/openapi.yaml
//            --handlers BUILD/handlers --source ROOT
//            [--responses STACK/responses.jsonl]
//
//   a. the document is a valid OpenAPI 3.1 document
//      (@seriousme/openapi-schema-validator), and every schema in it
//      compiles in ajv's strict JSON Schema 2020-12 mode;
//   b. the operations are exactly the routes every handler prints with
//      --routes ("METHOD PATTERN PERMISSION ACTION"), with the same
//      x-permission, and `security: []` exactly on the public ones.  A
//      handler that does not answer --routes gets a TODO line and its
//      table is read from ROOT/handlers/NAME.c instead;
//   c. every recorded response (t/lib/tap.sh's http() appends them, one
//      JSON line each) is a documented status of its operation (by method
//      and path template; HEAD is the GET), with a documented content
//      type, and a body that validates against the schema.  One TAP line
//      per operation and status seen.  Paths that are no operation's (404
//      from nginx or a handler, 405 for another method) and the answers
//      nginx gives before any route is chosen (408, 431) must be RFC 9457
//      problems.  Documented operations no test exercised are listed as
//      comments.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Validator } from "@seriousme/openapi-schema-validator";
import YAML from "yaml";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch",
    "trace"];
// Answers nginx gives before it picks a location: no operation's.
const REQUEST_LEVEL = new Set([408, 431]);
const MAX_SHOWN = 3;		// failing responses shown per TAP line
const BODY_SHOWN = 600;		// characters of a failing body shown

function args() {
	const a = {};
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i += 2) {
		if (!v[i].startsWith("--") || v[i + 1] === undefined) {
			console.error(`oas-check: bad arguments: ${v.join(" ")}`);
			process.exit(2);
		}
		a[v[i].slice(2)] = v[i + 1];
	}
	for (const k of ["spec", "handlers", "source"])
		if (!a[k]) {
			console.error(`oas-check: --${k} is required`);
			process.exit(2);
		}
	return a;
}

// ---- TAP -------------------------------------------------------------

const lines = [];
let count = 0, failed = 0;

function ok(pass, desc, diags = [], directive = "") {
	const n = ++count;
	lines.push(`${pass ? "ok" : "not ok"} ${n} - ${desc}${directive ?
	    ` # ${directive}` : ""}`);
	if (pass)
		return;
	if (!directive)
		failed++;
	for (const d of diags)
		diag(d);
}

function diag(s) {
	for (const l of String(s).split("\n"))
		lines.push(`# ${l}`);
}

function finish() {
	console.log(`1..${count}`);
	console.log(lines.join("\n"));
	process.exit(failed > 0 ? 1 : 0);
}

function short(s, n = BODY_SHOWN) {
	s = String(s);
	return s.length > n ? `${s.slice(0, n)}... (${s.length} characters)` : s;
}

// ---- the document ----------------------------------------------------

function unescapePointer(s) {
	return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

function escapePointer(s) {
	return s.replace(/~/g, "~0").replace(/\//g, "~1");
}

function pointerGet(doc, ptr) {
	let v = doc;
	for (const part of ptr.replace(/^#\/?/, "").split("/").filter((p) =>
	    p !== "")) {
		if (v === null || typeof v !== "object")
			return undefined;
		v = v[unescapePointer(part)];
	}
	return v;
}

// Follow a Reference Object (response, parameter...) to what it names:
// {obj, ptr} with ptr the JSON pointer of the object itself.
function deref(doc, obj, ptr) {
	for (let i = 0; i < 16 && obj && typeof obj.$ref === "string"; i++) {
		if (!obj.$ref.startsWith("#/"))
			throw new Error(`external reference ${obj.$ref} at ${ptr}`);
		ptr = obj.$ref;
		obj = pointerGet(doc, ptr);
		if (obj === undefined)
			throw new Error(`dangling reference ${ptr}`);
	}
	return { obj, ptr };
}

// The operations: {method, template, op, ptr, re, params}.
function operations(doc) {
	const ops = [];
	for (const [template, item] of Object.entries(doc.paths ?? {})) {
		for (const m of METHODS) {
			if (!item[m])
				continue;
			const segs = template.split("/");
			const re = new RegExp("^" + segs.map((s) =>
			    /^\{[^/{}]+\}$/.test(s) ? "[^/]+" :
			    s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("/") + "$");
			ops.push({
				method: m.toUpperCase(), template, op: item[m],
				ptr: `#/paths/${escapePointer(template)}/${m}`, re,
				params: segs.filter((s) => s.startsWith("{")).length,
				seen: 0,
			});
		}
	}
	return ops;
}

// ---- a. the document itself -----------------------------------------

async function checkDocument(spec, text) {
	const v = new Validator();
	let res;
	try {
		res = await v.validate(text);
	} catch (e) {
		res = { valid: false, errors: String(e) };
	}
	const errs = res.valid ? [] : [short(JSON.stringify(res.errors,
	    null, 1), 3000)];
	ok(res.valid && v.version === "3.1",
	    `${spec} is a valid OpenAPI 3.1 document`, res.valid ?
	    (v.version === "3.1" ? [] : [`it is OpenAPI ${v.version}`]) : errs);
}

function makeAjv(doc) {
	const ajv = new Ajv2020({
		strict: true,
		allowUnionTypes: true,
		allErrors: true,
		validateFormats: true,
	});
	addFormats(ajv);
	// OpenAPI's own schema keywords, and the document's top-level
	// members (ajv looks at the root of a schema it compiles a part of).
	ajv.addVocabulary(["example", "discriminator", "xml", "externalDocs",
	    "openapi", "info", "jsonSchemaDialect", "servers", "paths",
	    "webhooks", "components", "security", "tags"]);
	// The whole document under one id, so that "#/components/..."
	// references resolve; only its schemas are ever compiled.
	ajv.addSchema(doc, "openapi", undefined, false);
	return ajv;
}

// Every schema object in the document: components, parameters, request
// bodies, responses, headers.
function schemaPointers(doc) {
	const out = [];
	const walk = (v, ptr, key) => {
		if (v === null || typeof v !== "object")
			return;
		if (key === "schema" && !Array.isArray(v)) {
			out.push(ptr);
			return;
		}
		for (const [k, x] of Object.entries(v))
			walk(x, `${ptr}/${escapePointer(k)}`, k);
	};
	walk(doc.paths, "#/paths", "paths");
	walk(doc.components, "#/components", "components");
	for (const name of Object.keys(doc.components?.schemas ?? {}))
		out.push(`#/components/schemas/${escapePointer(name)}`);
	return out;
}

const compiled = new Map();
function validatorAt(ajv, ptr) {
	if (!compiled.has(ptr)) {
		const fn = ajv.getSchema(`openapi${ptr}`);
		if (!fn)
			throw new Error(`no schema at ${ptr}`);
		compiled.set(ptr, fn);
	}
	return compiled.get(ptr);
}

function checkSchemas(ajv, doc) {
	const bad = [];
	for (const ptr of schemaPointers(doc)) {
		try {
			validatorAt(ajv, ptr);
		} catch (e) {
			bad.push(`${ptr}: ${e.message}`);
		}
	}
	ok(bad.length === 0, "every schema in the document compiles " +
	    "(JSON Schema 2020-12, ajv strict mode)", bad.slice(0, 20));
}

// ---- b. routes -------------------------------------------------------

function permNames(source) {
	const names = {};
	const c = fs.readFileSync(path.join(source, "shared/authz.c"), "utf8");
	for (const m of c.matchAll(/\[(PERM_[A-Z_]+)\]\s*=\s*"([a-z_]+)"/g))
		names[m[1]] = m[2];
	return names;
}

// A route table read from a handler's source, for handlers that do not
// answer --routes.
function routesFromSource(source, name) {
	const file = path.join(source, "handlers", `${name}.c`);
	const c = fs.readFileSync(file, "utf8");
	const perms = permNames(source);
	const table = c.match(/struct route\s+routes\[\]\s*=\s*\{([\s\S]*?)\n\};/);
	if (!table)
		throw new Error(`no route table in ${file}`);
	const out = [];
	for (const m of table[1].matchAll(/\{\s*HTTP_([A-Z]+),\s*"([^"]+)",\s*\w+,\s*(PERM_[A-Z_]+),\s*"([^"]+)"/g))
		out.push({ method: m[1], pattern: m[2], perm: perms[m[3]] ??
		    m[3], action: m[4] });
	return out;
}

function handlerRoutes(dir, source) {
	const routes = [];
	const names = fs.readdirSync(dir).filter((f) => {
		const p = path.join(dir, f);
		try {
			const st = fs.statSync(p);
			fs.accessSync(p, fs.constants.X_OK);
			return st.isFile();
		} catch {
			return false;
		}
	}).sort();
	ok(names.length > 0, `handlers found in ${dir}`, names.length ? [] :
	    ["no executable there"]);
	const env = { HXB_DATABASE_URL: "x", PATH: process.env.PATH ?? "" };
	for (const k of ["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"])
		if (process.env[k] !== undefined)
			env[k] = process.env[k];
	for (const name of names) {
		let out = null, err = "";
		try {
			out = execFileSync(path.join(dir, name), ["--routes"],
			    { env, encoding: "utf8", stdio: ["ignore", "pipe",
			    "pipe"], timeout: 20000 });
		} catch (e) {
			err = String(e.stderr ?? e.message).trim();
		}
		if (out !== null) {
			const rs = out.split("\n").filter((l) => l.trim() !== "")
			    .map((l) => {
				const [method, pattern, perm, action] =
				    l.trim().split(/\s+/);
				return { method, pattern, perm, action };
			});
			ok(rs.length > 0 && rs.every((r) => r.action),
			    `${name} --routes prints its table`, [out.trim()]);
			for (const r of rs)
				routes.push({ ...r, handler: name });
			continue;
		}
		let rs = [];
		try {
			rs = routesFromSource(source, name);
		} catch (e) {
			err += `\n${e.message}`;
		}
		ok(false, `${name} --routes prints its table`,
		    [err.split("\n")[0], `its table is read from handlers/${name}.c: ${rs.length} routes`],
		    `TODO ${name} does not answer --routes`);
		for (const r of rs)
			routes.push({ ...r, handler: name });
	}
	return routes.filter((r) => !r.pattern.startsWith("/bench/"));
}

function checkRoutes(doc, ops, routes) {
	const key = (m, p) => `${m} ${p}`;
	const documented = new Map(ops.map((o) => [key(o.method, o.template),
	    o]));
	const routed = new Map(routes.map((r) => [key(r.method, r.pattern),
	    r]));

	const missing = [...routed.keys()].filter((k) => !documented.has(k));
	ok(missing.length === 0, `every handler route is an operation in ` +
	    `the document (${routed.size} routes)`, missing.map((k) =>
	    `undocumented: ${k} (${routed.get(k).handler}, ` +
	    `${routed.get(k).action})`));

	const extra = [...documented.keys()].filter((k) => !routed.has(k));
	ok(extra.length === 0, `every operation in the document is a ` +
	    `handler route (${documented.size} operations)`, extra.map((k) =>
	    `no handler answers: ${k}`));

	const wrong = [];
	const globalSec = doc.security ?? [];
	for (const [k, r] of routed) {
		const o = documented.get(k);
		if (!o)
			continue;
		if (o.op["x-permission"] !== r.perm)
			wrong.push(`${k}: x-permission is ` +
			    `${o.op["x-permission"]}, the route's ${r.perm}`);
		const sec = o.op.security ?? globalSec;
		const open = sec.length === 0 || sec.some((s) =>
		    Object.keys(s).length === 0);
		if (open !== (r.perm === "public"))
			wrong.push(`${k}: ${r.perm} but security is ` +
			    JSON.stringify(sec));
	}
	ok(wrong.length === 0, "every operation's x-permission and security " +
	    "match its route's permission", wrong);
}

// ---- c. responses ----------------------------------------------------

function findOperation(ops, method, p) {
	const want = method === "HEAD" ? "GET" : method;
	const matching = ops.filter((o) => o.re.test(p));
	if (matching.length === 0)
		return { kind: "unrouted" };
	// Literal segments win over templated ones (OpenAPI's rule).
	const byMethod = matching.filter((o) => o.method === want)
	    .sort((a, b) => a.params - b.params);
	if (byMethod.length === 0)
		return { kind: "method", template: matching.sort((a, b) =>
		    a.params - b.params)[0].template };
	return { kind: "op", o: byMethod[0] };
}

function findResponse(doc, o, status) {
	const rs = o.op.responses ?? {};
	const s = String(status);
	for (const k of [s, `${s[0]}XX`, "default"])
		if (rs[k])
			return deref(doc, rs[k], `${o.ptr}/responses/${k}`);
	return null;
}

function mediaType(ct) {
	return String(ct ?? "").split(";")[0].trim().toLowerCase();
}

function findContent(content, mt) {
	if (content[mt] !== undefined)
		return mt;
	const wild = `${mt.split("/")[0]}/*`;
	if (content[wild] !== undefined)
		return wild;
	return content["*/*"] !== undefined ? "*/*" : null;
}

function isJson(mt) {
	return mt === "application/json" || /\+json$/.test(mt);
}

function ajvErrors(errors) {
	return (errors ?? []).slice(0, 5).map((e) =>
	    `  ${e.instancePath || "(body)"} ${e.message}` +
	    (e.params && Object.keys(e.params).length ?
	    ` ${JSON.stringify(e.params)}` : "") + ` [${e.schemaPath}]`);
}

// One response against a schema: an array of problems, empty if fine.
function validateBody(ajv, ptr, rec, mt) {
	const fn = validatorAt(ajv, ptr);
	let value = rec.body;
	if (isJson(mt)) {
		try {
			value = JSON.parse(rec.body);
		} catch (e) {
			return [`the body is not JSON: ${e.message}`];
		}
	}
	const problems = [];
	if (!fn(value))
		problems.push(...ajvErrors(fn.errors));
	if (mt === "application/problem+json" && value &&
	    typeof value === "object" && value.status !== rec.status)
		problems.push(`  /status is ${JSON.stringify(value.status)}, ` +
		    `the response's ${rec.status}`);
	return problems;
}

function checkResponses(ajv, doc, ops, file) {
	let text;
	try {
		text = fs.readFileSync(file, "utf8");
	} catch (e) {
		ok(false, `responses recorded in ${file}`, [e.message]);
		return;
	}
	const recs = [];
	const broken = [];
	text.split("\n").forEach((l, i) => {
		if (l.trim() === "")
			return;
		try {
			recs.push(JSON.parse(l));
		} catch (e) {
			broken.push(`line ${i + 1}: ${e.message}: ${short(l, 200)}`);
		}
	});
	ok(broken.length === 0 && recs.length > 0, `${recs.length} responses ` +
	    `recorded, every line JSON`, recs.length > 0 ? broken.slice(0, 5) :
	    [`none in ${file}: run t/api/*.t against this stack first`]);

	const problemPtr = "#/components/schemas/Problem";
	const groups = new Map();	// label -> {n, failures: []}
	const group = (label) => {
		if (!groups.has(label))
			groups.set(label, { n: 0, failures: [] });
		const g = groups.get(label);
		g.n++;
		return g;
	};
	let noAnswer = 0;
	for (const rec of recs) {
		const where = `${rec.method} ${rec.path}${rec.query ?
		    `?${rec.query}` : ""}`;
		if (!rec.status) {
			noAnswer++;
			continue;
		}
		const mt = mediaType(rec.content_type);
		const fail = (g, why) => g.failures.push({ where, why, rec });
		const asProblem = (g) => {
			if (mt !== "application/problem+json") {
				fail(g, [`content type ${rec.content_type}, not ` +
				    `application/problem+json`]);
				return;
			}
			if (rec.method === "HEAD")
				return;
			const p = validateBody(ajv, problemPtr, rec, mt);
			if (p.length)
				fail(g, p);
		};
		if (REQUEST_LEVEL.has(rec.status)) {
			asProblem(group(`(before any route) ${rec.status}`));
			continue;
		}
		const f = findOperation(ops, rec.method, rec.path);
		if (f.kind === "unrouted") {
			const g = group(`(no operation's path) ${rec.status}`);
			if (rec.status < 400)
				fail(g, [`a ${rec.status} for a path no operation has`]);
			else
				asProblem(g);
			continue;
		}
		if (f.kind === "method") {
			const g = group(`${rec.method} ${f.template} ${rec.status} ` +
			    `(no such operation)`);
			if (rec.status !== 405)
				fail(g, [`${rec.method} is no operation of ` +
				    `${f.template}, yet the answer is ${rec.status}`]);
			else
				asProblem(g);
			continue;
		}
		const o = f.o;
		o.seen++;
		const g = group(`${rec.method} ${o.template} ${rec.status}`);
		let resp;
		try {
			resp = findResponse(doc, o, rec.status);
		} catch (e) {
			fail(g, [e.message]);
			continue;
		}
		if (!resp) {
			fail(g, [`status ${rec.status} is not documented for ` +
			    `${o.method} ${o.template} (documented: ` +
			    `${Object.keys(o.op.responses ?? {}).join(", ")})`]);
			continue;
		}
		const content = resp.obj.content;
		if (!content || Object.keys(content).length === 0) {
			if (rec.method !== "HEAD" && rec.body !== "")
				fail(g, ["a body where the document has none"]);
			continue;
		}
		const key = findContent(content, mt);
		if (key === null) {
			fail(g, [`content type ${JSON.stringify(rec.content_type)} ` +
			    `is not documented (documented: ` +
			    `${Object.keys(content).join(", ")})`]);
			continue;
		}
		if (rec.method === "HEAD" || content[key].schema === undefined)
			continue;
		if (rec.truncated) {
			diag(`${where}: body longer than the recording keeps; ` +
			    "not validated");
			continue;
		}
		const ptr = `${resp.ptr}/content/${escapePointer(key)}/schema`;
		let p;
		try {
			p = validateBody(ajv, ptr, rec, mt);
		} catch (e) {
			p = [e.message];
		}
		if (p.length)
			fail(g, p);
	}
	for (const [label, g] of [...groups].sort((a, b) =>
	    a[0].localeCompare(b[0]))) {
		const d = [];
		for (const f of g.failures.slice(0, MAX_SHOWN)) {
			d.push(f.where);
			d.push(...f.why);
			if (f.rec.method !== "HEAD")
				d.push(`  body: ${short(f.rec.body)}`);
		}
		if (g.failures.length > MAX_SHOWN)
			d.push(`... and ${g.failures.length - MAX_SHOWN} more`);
		ok(g.failures.length === 0, `${label} (${g.n} response` +
		    `${g.n === 1 ? "" : "s"}${g.failures.length ?
		    `, ${g.failures.length} wrong` : ""})`, d);
	}
	if (noAnswer > 0)
		diag(`${noAnswer} requests got no HTTP answer (curl failed); ` +
		    "not checked");
	const unseen = ops.filter((o) => o.seen === 0);
	if (unseen.length > 0) {
		diag(`${unseen.length} of ${ops.length} documented operations ` +
		    "no test exercised:");
		for (const o of unseen)
			diag(`  ${o.method} ${o.template}`);
	}
}

// ---- main ------------------------------------------------------------

const a = args();
const text = fs.readFileSync(a.spec, "utf8");
let doc;
try {
	doc = YAML.parse(text, { prettyErrors: true });
} catch (e) {
	ok(false, `${a.spec} parses as YAML`, [e.message]);
	finish();
}
const rel = path.relative(a.source, a.spec);
await checkDocument(rel && !rel.startsWith("..") ? rel : a.spec, text);
const ops = operations(doc);
const ajv = makeAjv(doc);
checkSchemas(ajv, doc);
checkRoutes(doc, ops, handlerRoutes(a.handlers, a.source));
if (a.responses)
	checkResponses(ajv, doc, ops, a.responses);
finish();
