package reports

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailServer is a real SMTP server on loopback that records what it accepts.
type mailServer struct {
	addr string
	l    net.Listener
	srv  *smtp.Server
	done chan struct{}
	box  *mailbox
}

type mailbox struct {
	mu   sync.Mutex
	msgs [][]byte
	rcpt [][]string
}

func (b *mailbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

type session struct {
	box    *mailbox
	authed bool
	rcpt   []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "payrun" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error { s.rcpt = append(s.rcpt, to); return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, b)
	s.box.rcpt = append(s.box.rcpt, s.rcpt)
	s.box.mu.Unlock()
	return nil
}
func (s *session) Reset()        { s.rcpt = nil }
func (s *session) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "payrun test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startMailServer serves on addr ("127.0.0.1:0" for any port); implicit
// selects TLS from the first byte instead of STARTTLS.
func startMailServer(t *testing.T, addr string, cert tls.Certificate, implicit bool, box *mailbox) *mailServer {
	t.Helper()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{box: box}, nil }))
	s.Domain = "localhost"
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	var l net.Listener
	var err error
	if implicit {
		l, err = tls.Listen("tcp", addr, s.TLSConfig)
	} else {
		l, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	ms := &mailServer{addr: l.Addr().String(), l: l, srv: s, done: make(chan struct{}), box: box}
	go func() {
		defer close(ms.done)
		_ = s.Serve(l)
	}()
	t.Cleanup(ms.stop)
	return ms
}

func (ms *mailServer) stop() {
	select {
	case <-ms.done:
		return
	default:
	}
	ms.srv.Close()
	ms.l.Close() // Serve may not have registered it with the server yet
	<-ms.done
}

func (ms *mailServer) smtpConfig(t *testing.T, mode string) SMTPConfig {
	host, port, _ := net.SplitHostPort(ms.addr)
	p, _ := net.LookupPort("tcp", port)
	return SMTPConfig{Host: host, Port: p, Username: "payrun", Password: "s3cret", TLS: mode}
}

// writeReportFiles writes the workbook and both bodies to dir, as payrun
// report does before composing, and returns their paths.
func writeReportFiles(t *testing.T, dir string) (xlsx, html, txt string, meta Meta) {
	t.Helper()
	meta, res := fixture()
	xlsx, html, txt = filepath.Join(dir, "reconciliation.xlsx"), filepath.Join(dir, "report.html"), filepath.Join(dir, "report.txt")
	for path, write := range map[string]func(io.Writer) error{
		xlsx: func(w io.Writer) error { return WriteWorkbook(w, meta, res, Options{}) },
		html: func(w io.Writer) error { return WriteHTML(w, meta, res, Options{}) },
		txt:  func(w io.Writer) error { return WriteText(w, meta, res, Options{}) },
	} {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := write(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return xlsx, html, txt, meta
}

// parsedMessage is a received message taken apart.
type parsedMessage struct {
	header      mail.Header
	text, html  []byte
	attachments map[string][]byte
}

func parseMessage(t *testing.T, raw []byte) parsedMessage {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	p := parsedMessage{header: msg.Header, attachments: map[string][]byte{}}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("top-level content type %q: %v", mt, err)
	}
	walkParts(t, multipart.NewReader(msg.Body, params["boundary"]), &p)
	return p
}

func walkParts(t *testing.T, mr *multipart.Reader, p *parsedMessage) {
	for {
		part, err := mr.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		mt, params, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if strings.HasPrefix(mt, "multipart/") {
			walkParts(t, multipart.NewReader(part, params["boundary"]), p)
			continue
		}
		var body []byte
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
			body, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, part))
		} else {
			body, err = io.ReadAll(part)
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case part.FileName() != "":
			p.attachments[part.FileName()] = body
		case mt == "text/plain":
			p.text = body
		case mt == "text/html":
			p.html = body
		}
	}
}

func testDelivery(t *testing.T, implicit bool, mode string) {
	cert, pool := selfSigned(t)
	box := &mailbox{}
	ms := startMailServer(t, "127.0.0.1:0", cert, implicit, box)
	dir := t.TempDir()
	xlsx, htmlPath, txtPath, meta := writeReportFiles(t, dir)
	_, res := fixture()
	e, err := Compose(meta, res, Envelope{From: "payrun@example.com", To: []string{"ana@example.com"},
		Cc: []string{"ops@example.com"}, SubjectPrefix: "[payrun]", Attachments: []string{xlsx}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &Mailer{SMTP: ms.smtpConfig(t, mode), Queue: &FileQueue{Dir: filepath.Join(dir, "queue")},
		TLSConfig: &tls.Config{RootCAs: pool}}
	if err := m.Submit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if n := box.count(); n != 1 {
		t.Fatalf("server received %d messages, want 1", n)
	}
	box.mu.Lock()
	raw, rcpt := box.msgs[0], box.rcpt[0]
	box.mu.Unlock()
	if strings.Join(rcpt, ",") != "ana@example.com,ops@example.com" {
		t.Errorf("recipients %v", rcpt)
	}
	got := parseMessage(t, raw)
	if got.header.Get("Message-Id") != MessageID(e) {
		t.Errorf("Message-Id %q, want %q", got.header.Get("Message-Id"), MessageID(e))
	}
	for name, pair := range map[string][2][]byte{
		"html part":                      {got.html, mustRead(t, htmlPath)},
		"text part":                      {got.text, mustRead(t, txtPath)},
		"attachment reconciliation.xlsx": {got.attachments["reconciliation.xlsx"], mustRead(t, xlsx)},
	} {
		if !bytes.Equal(pair[0], pair[1]) {
			t.Errorf("%s differs from the file on disk (%d bytes vs %d)", name, len(pair[0]), len(pair[1]))
		}
	}
	if p, _ := m.Queue.Pending(); len(p) != 0 {
		t.Errorf("%d messages still pending after delivery", len(p))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSMTPStartTLS(t *testing.T) { testDelivery(t, false, TLSStartTLS) }

func TestSMTPImplicitTLS(t *testing.T) { testDelivery(t, true, TLSImplicit) }

// TestSMTPOutageThenRecovery: the server is down when the report is sent;
// the message waits in the queue, survives a new Mailer (a restart), and is
// delivered exactly once when the server is back, however often Flush and
// Submit run.
func TestSMTPOutageThenRecovery(t *testing.T) {
	cert, pool := selfSigned(t)
	box := &mailbox{}
	ms := startMailServer(t, "127.0.0.1:0", cert, false, box)
	addr, cfg := ms.addr, ms.smtpConfig(t, TLSStartTLS)
	ms.stop() // outage

	dir := t.TempDir()
	xlsx, _, _, meta := writeReportFiles(t, dir)
	_, res := fixture()
	env := Envelope{From: "payrun@example.com", To: []string{"ana@example.com"}, Attachments: []string{xlsx}}
	e, err := Compose(meta, res, env, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := &FileQueue{Dir: filepath.Join(dir, "queue")}
	m := &Mailer{SMTP: cfg, Queue: q, TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second}
	if err := m.Submit(context.Background(), e); err == nil {
		t.Fatal("Submit succeeded with the server down")
	}
	if p, _ := q.Pending(); len(p) != 1 {
		t.Fatalf("%d messages pending after a failed send, want 1", len(p))
	}
	if sent, err := m.Flush(context.Background()); err == nil || sent != 0 {
		t.Fatalf("Flush during the outage: sent %d, err %v", sent, err)
	}

	startMailServer(t, addr, cert, false, box)                                // recovery, same address
	m2 := &Mailer{SMTP: cfg, Queue: q, TLSConfig: &tls.Config{RootCAs: pool}} // after a restart
	sent, err := m2.Flush(context.Background())
	if err != nil || sent != 1 {
		t.Fatalf("Flush after recovery: sent %d, err %v", sent, err)
	}
	if sent, err := m2.Flush(context.Background()); err != nil || sent != 0 {
		t.Fatalf("second Flush: sent %d, err %v", sent, err)
	}
	// The same report composed and submitted again is not a new message.
	e2, _ := Compose(meta, res, env, Options{})
	if err := m2.Submit(context.Background(), e2); err != nil {
		t.Fatal(err)
	}
	if n := box.count(); n != 1 {
		t.Fatalf("server received %d messages, want exactly 1", n)
	}
}

func TestOutboxWithoutSMTP(t *testing.T) {
	dir := t.TempDir()
	xlsx, htmlPath, _, meta := writeReportFiles(t, dir)
	_, res := fixture()
	e, err := Compose(meta, res, Envelope{From: "payrun@example.com", To: []string{"ana@example.com"}, Attachments: []string{xlsx}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	outbox := filepath.Join(dir, "outbox")
	m := &Mailer{Outbox: outbox}
	if err := m.Submit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	raw := mustRead(t, OutboxPath(outbox, MessageID(e)))
	got := parseMessage(t, raw)
	if !bytes.Equal(got.html, mustRead(t, htmlPath)) || !bytes.Equal(got.attachments["reconciliation.xlsx"], mustRead(t, xlsx)) {
		t.Error("the .eml in the outbox does not carry the report files byte for byte")
	}
}
