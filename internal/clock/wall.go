package clock

import "time"

// Wall returns the host's wall-clock time as it is, unmeasured. It is for
// timestamps that are not evidence — a test sender's SendingTime, a
// progress line — never for an event's capture time: events take theirs
// from Clock.Stamp, with the measured status beside it.
func Wall() time.Time { return time.Now() }
