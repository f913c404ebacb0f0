package reports

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestProbe: Probe connects and logs in as a delivery would, sends
// nothing, and says why when it cannot (wrong password, nobody there).
func TestProbe(t *testing.T) {
	cert, pool := selfSigned(t)
	box := &mailbox{}
	ms := startMailServer(t, "127.0.0.1:0", cert, false, box)
	cfg := ms.smtpConfig(t, TLSStartTLS)
	m := &Mailer{SMTP: cfg, TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second}
	if err := m.Probe(context.Background()); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if box.count() != 0 {
		t.Error("a probe sent a message")
	}
	wrong := cfg
	wrong.Password = "wrong"
	bad := &Mailer{SMTP: wrong, TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second}
	if err := bad.Probe(context.Background()); err == nil || !strings.Contains(err.Error(), "smtp auth") {
		t.Errorf("wrong password: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	gone := &Mailer{SMTP: SMTPConfig{Host: "127.0.0.1", Port: closed, TLS: TLSNone}, Timeout: 5 * time.Second}
	if err := gone.Probe(context.Background()); err == nil {
		t.Error("a probe of a closed port succeeded")
	}
}
