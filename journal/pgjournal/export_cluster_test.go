package pgjournal

import "context"

// Renew renews j's lease now, as its heartbeat does.
func Renew(j *Journal) { j.renew(context.Background()) }
