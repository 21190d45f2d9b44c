import { appendFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Fault injection for the crash and damage tests (tools/e2e/publish.spec.ts,
 * tools/e2e/depot-faults.spec.ts): publishers call `checkpoint()` between
 * the steps that change a depot. Without these variables a checkpoint is a
 * counter increment.
 *   PYDEPOT_FAULT_KILL_AT=N            SIGKILL at the N-th checkpoint (a power cut, an OOM kill)
 *   PYDEPOT_FAULT_KILL_AT_LABEL=label  SIGKILL at the first checkpoint with that label
 *   PYDEPOT_FAULT_LOSE=label:rel       at that checkpoint, delete <tree>/<rel> (a share that loses a written file)
 *   PYDEPOT_FAULT_TRACE=<file>         record every checkpoint reached
 */
let reached = 0;

export function checkpoint(label: string, tree?: string): void {
  reached++;
  const env = process.env;
  if (env.PYDEPOT_FAULT_TRACE) appendFileSync(env.PYDEPOT_FAULT_TRACE, `${reached} ${label}\n`);
  if (env.PYDEPOT_FAULT_LOSE && tree) {
    const at = env.PYDEPOT_FAULT_LOSE.indexOf(':');
    if (env.PYDEPOT_FAULT_LOSE.slice(0, at) === label) rmSync(path.join(tree, env.PYDEPOT_FAULT_LOSE.slice(at + 1)), { force: true });
  }
  if ((env.PYDEPOT_FAULT_KILL_AT && Number(env.PYDEPOT_FAULT_KILL_AT) === reached) || env.PYDEPOT_FAULT_KILL_AT_LABEL === label) process.kill(process.pid, 'SIGKILL');
}
