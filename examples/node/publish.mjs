// Publishes touchpoints to Journey Telemetry from a Node.js service.
//
//   npm ci
//   JOURNEY_KAFKA__BOOTSTRAP_SERVERS=broker:9092 node publish.mjs < events.jsonl
//
// Reads one JSON event per line on stdin. Each is validated against the contract's committed
// JSON Schema (schemas/touchpoint.schema.json, or JOURNEY_SCHEMA_FILE) and its time limits before
// anything is sent: an invalid event is reported on stderr with the failing field and skipped (exit status 2). Valid
// events are keyed like the Python SDK's: anonymous_id when present, else customer_id, so one
// person's events stay in order on one partition (kafkajs's default partitioner is murmur2, as
// the Java client's and the Python SDK's). --skip-validation sends lines as they are: only for
// trying the dead-letter path.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { CompressionTypes, Kafka, logLevel, Partitioners } from "kafkajs";

const env = process.env;
const schemaFile = env.JOURNEY_SCHEMA_FILE ?? fileURLToPath(new URL("../../schemas/touchpoint.schema.json", import.meta.url));
const topic = `${env.JOURNEY_TOPICS__PREFIX ?? ""}touchpoints`;
const brokers = (env.JOURNEY_KAFKA__BOOTSTRAP_SERVERS ?? "127.0.0.1:9092").split(",");
const skipValidation = process.argv.includes("--skip-validation");
// The contract's time limits (stage 1 dead-letters an event outside them: time_out_of_range).
const maxFutureMinutes = Number(env.JOURNEY_CONTRACT__MAX_FUTURE_MINUTES ?? 60);
const maxAgeDays = Number(env.JOURNEY_CONTRACT__MAX_AGE_DAYS ?? 400);

const ajv = new Ajv2020({ allErrors: false, strict: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")));

function problem(line) {
  let event;
  try {
    event = JSON.parse(line);
  } catch (error) {
    return `not JSON: ${error.message}`;
  }
  if (!validate(event)) {
    const [first] = validate.errors;
    return `${first.instancePath || "(event)"}: ${first.message}`;
  }
  const ageMs = Date.now() - Date.parse(event.occurred_at);
  if (-ageMs > maxFutureMinutes * 60_000) return `/occurred_at: more than ${maxFutureMinutes} minutes from now (contract.max_future_minutes)`;
  if (ageMs > maxAgeDays * 86_400_000) return `/occurred_at: more than ${maxAgeDays} days ago (contract.max_age_days)`;
  return null;
}

function keyOf(line) {
  try {
    const event = JSON.parse(line);
    return event.anonymous_id ?? event.customer_id ?? null;
  } catch {
    return null;
  }
}

const kafka = new Kafka({ clientId: "journey-example-node", brokers, logLevel: logLevel.WARN });
// Idempotent (acks from all in-sync replicas, retries without duplicates), as the Python SDK.
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner, // murmur2, as the Java client and the Python SDK
});
await producer.connect();

const messages = [];
let invalid = 0;
let lineNumber = 0;
for await (const line of createInterface({ input: process.stdin })) {
  lineNumber += 1;
  if (!line.trim()) continue;
  const reason = skipValidation ? null : problem(line);
  if (reason) {
    invalid += 1;
    console.error(`invalid event on line ${lineNumber}: ${reason}`);
    continue;
  }
  messages.push({ key: keyOf(line), value: line });
}
if (messages.length) await producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
await producer.disconnect();
console.log(`published ${messages.length} event(s) to ${topic}${invalid ? `, ${invalid} invalid` : ""}`);
process.exit(invalid ? 2 : 0);
