// What the kernel says about a process: resident memory from /proc/<pid>/status and CPU time
// from /proc/<pid>/stat. Read from outside, so measuring costs the measured process nothing.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

const TICKS_PER_SECOND = clockTicksPerSecond();

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis don't.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** CPU use of a set of processes over a window, as a percentage of one core. */
export class CpuMeter {
  private readonly startCpu: number[];
  private readonly startAt: number;

  constructor(private readonly pids: readonly number[]) {
    this.startCpu = pids.map(cpuSeconds);
    this.startAt = performance.now();
  }

  /** Percent of one core for each pid, since construction. */
  read(): number[] {
    const seconds = (performance.now() - this.startAt) / 1000;
    return this.pids.map((pid, i) => (100 * (cpuSeconds(pid) - (this.startCpu[i] ?? 0))) / seconds);
  }
}

/** What a process has written so far, from /proc/<pid>/io. */
export interface IoCounts {
  /** Bytes the process caused to be sent to storage (files, not sockets). */
  writeBytes: number;
  /** Bytes passed to write-like system calls (files and sockets). */
  wchar: number;
  /** Write-like system calls. */
  syscw: number;
}

export function ioCounts(pid: number): IoCounts {
  const text = readFileSync(`/proc/${pid}/io`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1]);
  return { writeBytes: field("write_bytes"), wchar: field("wchar"), syscw: field("syscw") };
}
