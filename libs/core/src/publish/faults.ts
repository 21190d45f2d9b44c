import { appendFileSync } from 'node:fs';

/**
 * Fault injection for the crash tests (tools/e2e/publish-faults.spec.ts):
 * publishers call `checkpoint()` between the steps that change a depot.
 * With PYDEPOT_FAULT_KILL_AT=N the process SIGKILLs itself at the N-th
 * checkpoint, exactly as a power cut or an OOM kill would stop it;
 * PYDEPOT_FAULT_TRACE=<file> records every checkpoint reached. Without those
 * variables a checkpoint is a counter increment.
 */
let reached = 0;

export function checkpoint(label: string): void {
  reached++;
  const trace = process.env.PYDEPOT_FAULT_TRACE;
  if (trace) appendFileSync(trace, `${reached} ${label}\n`);
  if (process.env.PYDEPOT_FAULT_KILL_AT && Number(process.env.PYDEPOT_FAULT_KILL_AT) === reached) process.kill(process.pid, 'SIGKILL');
}
