import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  if (process.env.OPS_LOAD_TRACE) appendFileSync(process.env.OPS_LOAD_TRACE, `${url}\n`);
  return nextLoad(url, context);
}
