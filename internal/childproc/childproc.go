// Package childproc has the process attributes of the helper servers
// tests start (nginx, moto_server, a registry, ...): each in its own
// process group and, where the kernel can (Linux), killed with the test
// binary should that die without stopping it. Elsewhere the servers are
// only stopped by the tests' cleanups.
package childproc
