/**
 * The process that stands in for an instance when no real workload is launched. It only has to
 * exist and to end when told (SIGTERM) or when the simulator is gone: the simulator holds the
 * write end of this process's stdin, and the pipe closes when it exits in any way, even kill -9,
 * so no placeholder outlives it. Usage: node placeholder-instance.js <instance-id>
 */
const exit = (): never => process.exit(0);
process.on('SIGTERM', exit);
process.stdin.on('end', exit);
process.stdin.on('error', exit);
process.stdin.resume();
