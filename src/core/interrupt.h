// Cooperative stop for long-running commands on SIGINT and SIGTERM (the behaviour of Vector and
// Flink): the first signal sets a flag that workers poll between batches, so they stop taking
// records, commit what they hold and leave their tasks resumable; a second signal has the
// default effect (the process ends at once, which the commit protocol also survives).
//
// Process-wide state; every function is async-signal-safe to call and thread-safe.
#pragma once

namespace weir {

// Installs the handlers for SIGINT and SIGTERM (once per process; idempotent).
void InstallStopHandlers();
// True once a stop was requested.
bool StopRequested();
// The signal that requested the stop (SIGINT, SIGTERM), or 0 (none, or kStopOnFailure).
int StopSignal();
// RequestStop(kStopOnFailure): weir stops itself because a part of the run failed (a stream
// whose rules stage failed); the run then ends with that part's error, not as if signalled.
constexpr int kStopOnFailure = -1;
// Requests a stop as if `sig` had arrived (tests, and the handler itself), or kStopOnFailure.
void RequestStop(int sig);

}  // namespace weir
