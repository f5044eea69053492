// Package childproc has the process attributes of child processes that
// must not outlive the process that started them.
//
// SysProcAttr is for the helper servers tests start (nginx, moto_server, a
// registry, ...): each in its own process group and, where the kernel can
// (Linux), killed with the test binary should that die without stopping
// it. Elsewhere the servers are only stopped by the tests' cleanups.
//
// Worker is for the helpers pipbake itself runs during an install (the
// bytecode compilers): in the caller's process group, so a signal to the
// group reaches them, and on Linux killed the moment their parent dies.
//
// Linux delivers the parent-death signal when the *thread* that started
// the child exits, not the process. Go ends a thread only when a goroutine
// locked to it (runtime.LockOSThread) returns without unlocking; start
// such children on a Thread, a goroutine locked to its thread that stays
// locked until they have exited, so the signal cannot fire early.
package childproc
