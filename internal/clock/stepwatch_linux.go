package clock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// stepWatcher reports every set of CLOCK_REALTIME at once: a timerfd on
// CLOCK_REALTIME armed with TFD_TIMER_ABSTIME|TFD_TIMER_CANCEL_ON_SET for
// a time that never comes; whenever the kernel's clock_was_set() runs
// (clock_settime, settimeofday, adjtimex ADJ_SETOFFSET, an applied leap
// second, resume), a read on it fails with ECANCELED (timerfd_create(2)).
// The file is non-blocking, so the read parks in Go's netpoller rather
// than holding a thread, and Close unblocks it.
type stepWatcher struct {
	f *os.File
}

// farFuture is the timer's expiry: 2191-10-25, past any deployment.
const farFuture = 7_000_000_000

func newStepWatcher() (*stepWatcher, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("clock: timerfd_create(CLOCK_REALTIME): %w", err)
	}
	if err := arm(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &stepWatcher{f: os.NewFile(uintptr(fd), "timerfd-cancel-on-set")}, nil
}

// wait blocks until the wall clock is set (nil) or the watcher is closed
// (an error wrapping os.ErrClosed), or fails.
func (w *stepWatcher) wait() error {
	var buf [8]byte
	for {
		_, err := w.f.Read(buf[:])
		switch {
		case errors.Is(err, unix.ECANCELED):
			return nil
		case err != nil:
			return err
		}
		// The timer expired (it is 2191): re-arm and keep watching.
		// (Not through f.Fd, which would make the file blocking.)
		rc, err := w.f.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = arm(int(fd)) }); err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
	}
}

// arm sets the timer for farFuture, absolute, cancelled on a clock set.
func arm(fd int) error {
	spec := unix.ItimerSpec{Value: unix.Timespec{Sec: farFuture}}
	if err := unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &spec, nil); err != nil {
		return fmt.Errorf("clock: timerfd_settime(TFD_TIMER_CANCEL_ON_SET): %w", err)
	}
	return nil
}

func (w *stepWatcher) close() error { return w.f.Close() }
