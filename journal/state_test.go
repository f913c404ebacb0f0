package journal

import "testing"

func TestFinalStatesNeverRegress(t *testing.T) {
	for _, from := range States {
		if !from.Final() {
			continue
		}
		for _, to := range States {
			allowed := CanMove(from, to)
			if (from == Succeeded || from == Mismatch) && to == Reversed || from == Expired && (to == Succeeded || to == Mismatch) {
				if !allowed {
					t.Errorf("%s -> %s must be allowed", from, to)
				}
				continue
			}
			if allowed {
				t.Errorf("final state %s may move to %s", from, to)
			}
		}
	}
}

func TestEveryStateReachable(t *testing.T) {
	seen := map[State]bool{Accepted: true, Invalid: true, Duplicate: true}
	for from, tos := range transitions {
		_ = from
		for _, to := range tos {
			seen[to] = true
		}
	}
	for _, s := range States {
		if !seen[s] {
			t.Errorf("state %s is unreachable", s)
		}
	}
}
