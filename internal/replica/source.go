package replica

import (
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/seal"
)

// Published is a checkpoint to publish: the tree size, its root, and the
// exact note to write as the replicas' checkpoint object. Size 0 (or a nil
// Note) means nothing yet.
type Published struct {
	Size uint64
	Root tlog.Hash
	Note []byte
}

// Source says what to publish. Published returns the newest checkpoint to
// publish and a channel closed when that changes; callers take the channel
// with the value, so no change falls between reading it and waiting. The
// sizes a Source publishes never shrink, and each is the size of a
// checkpoint the sealer stored (the events bundles carry the root of the
// first stored checkpoint covering each event, as exports do).
type Source interface {
	Published() (p Published, changed <-chan struct{})
}

// SealerSource publishes the sealer's own checkpoints (no witnessing).
func SealerSource(s *seal.Sealer) Source { return sealerSource{s} }

type sealerSource struct{ s *seal.Sealer }

func (ss sealerSource) Published() (Published, <-chan struct{}) {
	ch := ss.s.Changed()
	c, err := ss.s.Latest()
	if err != nil {
		return Published{}, ch
	}
	return Published{Size: c.Size, Root: c.Root, Note: c.Note}, ch
}
