package clock_test

import (
	"context"
	"fmt"

	"github.com/fixtap/fixtap/internal/clock"
)

// A Clock with no time daemon configured says so: every stamp is
// UNRELIABLE, from the SYSTEM source, with no error bound.
func ExampleClock_Stamp() {
	c, err := clock.New(context.Background(), clock.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	st := c.Stamp()
	fmt.Printf("%s source=%s bound=%q rules=%s\n", st.Status, st.Clock.Source, st.Clock.MaxErrorNs, st.Snapshot.RuleVersion)
	// Output: UNRELIABLE source=SYSTEM bound="" rules=fixtap-clock/1
}
