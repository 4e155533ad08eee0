import { Effect } from "effect"
import * as fs from "node:fs"
import { Db } from "../../../packages/cluster/src/internal/pg.ts"
const url = fs.readFileSync("/tmp/exp/pg.url", "utf8").trim()
const db = new Db(url, "weft", 10)
const sql = db.take()
await db.send(sql, "SELECT pg_advisory_lock(99::int8)")
await db.send(sql, "SELECT pg_advisory_unlock(99::int8) AS ok")
console.log(await db.send(sql, "SELECT name, statement FROM pg_prepared_statements"))
process.exit(0)
