package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/fixtap/fixtap/internal/cosign"
)

// WitnessReport is what the verifier found about witness cosignatures
// (C2SP tlog-witness, docs/replication.md).
type WitnessReport struct {
	// Policy says where the witness policy came from (pinned, or the
	// bundle's copy), or that there was none.
	Policy      string             `json:"Policy"`
	Checkpoints []CheckpointCosigs `json:"Checkpoints"`
}

// CheckpointCosigs is one checkpoint's cosignatures.
type CheckpointCosigs struct {
	TreeSize uint64 `json:"TreeSize"`
	// Required is true for the checkpoints the policy must cover: the
	// newest (the bundle's claim of completeness) and every anchored one
	// (with witnessing on, the tap only anchors cosigned notes).
	Required  bool     `json:"Required"`
	Cosigners []string `json:"Cosigners"` // "name at RFC 3339 time"
	Satisfied bool     `json:"Satisfied"`
}

// checkWitnesses checks the checkpoints' cosignatures against the witness
// policy: every required checkpoint must satisfy it, and no checkpoint may
// carry a signature by a policy witness that does not verify (layer 2).
func (v *verifier) checkWitnesses() {
	text, trust := v.opts.WitnessPolicy, trustPinned
	name := "-witness-policy"
	if text == nil && v.m.Keys.WitnessPolicy != "" {
		b, err := fs.ReadFile(v.fsys, v.m.Keys.WitnessPolicy)
		if err != nil {
			v.fail(Failure{Layer: "bundle", Check: "keys", Detail: fmt.Sprintf("witness policy: %v", err)})
			return
		}
		text, trust, name = b, trustBundle, v.m.Keys.WitnessPolicy
	}
	if text == nil {
		for _, c := range v.cps {
			if c.ok && countSigLines(c.note) > 1 {
				v.r.Warnings = append(v.r.Warnings, "checkpoints carry cosignatures, but no witness policy was given or bundled: they were not checked")
				break
			}
		}
		return
	}
	v.r.Witness = &WitnessReport{Policy: trust, Checkpoints: []CheckpointCosigs{}}
	pol, err := cosign.ParsePolicy(name, text)
	if err != nil {
		v.fail(Failure{Layer: "bundle", Check: "witness-policy", Detail: err.Error()})
		return
	}
	if v.cpVer == nil {
		return // no checkpoint key: checkCheckpoints has failed already
	}
	required := map[uint64]bool{}
	if n := len(v.cps); n > 0 {
		required[v.cps[n-1].size] = true
	}
	for _, a := range v.m.Anchors {
		required[a.TreeSize] = true
	}
	for _, c := range v.cps {
		if !c.ok {
			continue
		}
		cr := CheckpointCosigs{TreeSize: c.size, Required: required[c.size], Cosigners: []string{}}
		res, err := pol.Check(c.note, v.cpVer)
		if res != nil {
			for _, cs := range res.Cosigs {
				cr.Cosigners = append(cr.Cosigners, cs.Witness+" at "+cs.Time.UTC().Format(time.RFC3339))
			}
		}
		cr.Satisfied = err == nil
		switch {
		case err == nil:
		case errors.Is(err, cosign.ErrPolicyUnsatisfied) && !cr.Required:
			// An intermediate checkpoint the tap did not have cosigned
			// (it sends witnesses only the newest): fine.
		case errors.Is(err, cosign.ErrPolicyUnsatisfied):
			v.fail(Failure{Layer: "tree", Check: "witness", TreeSize: u64p(c.size),
				Detail: fmt.Sprintf("the witness policy (%s) is not satisfied: %v", trust, err)})
		default:
			v.fail(Failure{Layer: "tree", Check: "witness", TreeSize: u64p(c.size),
				Detail: fmt.Sprintf("cosignatures do not verify: %v", err)})
		}
		v.r.Witness.Checkpoints = append(v.r.Witness.Checkpoints, cr)
	}
}

// countSigLines counts the signature lines of a signed note.
func countSigLines(msg []byte) int {
	i := strings.Index(string(msg), "\n\n")
	if i < 0 {
		return 0
	}
	return strings.Count(string(msg[i+2:]), "\n")
}
