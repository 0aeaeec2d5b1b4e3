//go:build !linux

package clock

import "errors"

// stepWatcher has no kernel notification outside Linux: steps are found
// by each poll's cross-check instead (Detection "poll").
type stepWatcher struct{}

func newStepWatcher() (*stepWatcher, error) {
	return nil, errors.New("clock: no timerfd on this platform")
}

func (w *stepWatcher) wait() error  { return errors.New("clock: no step watcher") }
func (w *stepWatcher) close() error { return nil }
