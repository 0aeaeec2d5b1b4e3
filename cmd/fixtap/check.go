package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/tapconfig"
)

// checkStartup refuses what tapconfig accepts but `fixtap run` would refuse
// at start, so that `run -check` says "ok" only for a tap that can start:
// settings the tap does not support yet, and a checkpoint key left in the
// data dir that cannot be loaded (readable by others, or not a key).
func checkStartup(f *tapconfig.File) error {
	if f.Tap.DynamicSessions {
		return errors.New("run: DynamicSessions=Y is not supported yet: list every session")
	}
	p := checkpointKeyFile(f.Tap.DataDir)
	if _, err := seal.LoadKeyFile(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		var me *seal.KeyFileModeError
		if errors.As(err, &me) {
			return fmt.Errorf("run: checkpoint key %s has mode %04o: it must not be readable or writable by group or others (chmod 600 %s)", p, me.Mode.Perm(), p)
		}
		return fmt.Errorf("run: checkpoint key: %w", err)
	}
	return nil
}
