//go:build unix

package main

import (
	"context"
	"syscall"
	"time"
)

// settle lets the disk finish the previous run before the next starts:
// sync(2) writes back whatever is dirty, then a pause covers what the
// previous process's exit set off (its temporary directory's deletion, whose
// blocks ext4 mounted with discard trims at the next journal commits). A
// run's fsyncs would otherwise queue behind its predecessor's I/O: the
// latency group run right after the throughput group measured a p99 at
// 10k ER/s of 5.9 ms, the same group on its own 3.6 ms.
func settle(ctx context.Context) {
	syscall.Sync()
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}
