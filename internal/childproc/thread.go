package childproc

import (
	"runtime"
	"sync"
)

// Thread is a goroutine locked to its OS thread, for starting children
// whose parent-death signal must fire when the process dies and not
// before: Linux sends it when the thread that forked the child exits.
//
//	th := childproc.NewThread()
//	th.Do(func() { err = cmd.Start() })  // cmd.SysProcAttr = Worker()
//	... cmd.Wait() ...
//	th.Release()                         // once every child has exited
type Thread struct {
	work chan func()
	once sync.Once
}

// NewThread starts the locked goroutine.
func NewThread() *Thread {
	t := &Thread{work: make(chan func())}
	go func() {
		// Locked, this thread runs nothing else and the runtime cannot end
		// it: the children it starts lose their parent only when the
		// process dies. Unlocked after Release: their signal no longer
		// matters then, and the thread goes back to the runtime.
		runtime.LockOSThread()
		for f := range t.work {
			f()
		}
		runtime.UnlockOSThread()
	}()
	return t
}

// Do runs f on the thread and returns when it has. Not after Release.
func (t *Thread) Do(f func()) {
	done := make(chan struct{})
	t.work <- func() {
		defer close(done)
		f()
	}
	<-done
}

// Release ends the goroutine; call it once every child started with Do
// has been waited for. Later calls do nothing.
func (t *Thread) Release() { t.once.Do(func() { close(t.work) }) }
