package reports

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/jordan-wright/email"
)

// TLS modes of SMTPConfig.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS (port 587); the default
	TLSImplicit = "implicit" // TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS: refused unless the host is loopback
)

// SMTPConfig is the mail server. Password is the resolved secret (the
// config's env:/file: reference already read).
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      string
}

// Mailer delivers messages: over SMTP when SMTP.Host is set, otherwise by
// writing each one as an .eml file into Outbox. Every message goes through
// Queue first, so that a failed delivery is retried by a later Flush and
// never lost.
type Mailer struct {
	SMTP   SMTPConfig
	Outbox string
	// Queue holds undelivered messages; nil uses an in-memory queue (lost
	// with the process).
	Queue Queue
	// TLSConfig, when set, is the base TLS configuration (tests set RootCAs);
	// ServerName defaults to SMTP.Host.
	TLSConfig *tls.Config
	// Timeout bounds one delivery (default 1 minute).
	Timeout time.Duration

	mu  sync.Mutex // one Flush at a time
	mem MemQueue
}

// ErrNoRecipients is returned for a message without a From or a To.
var ErrNoRecipients = errors.New("reports: message has no sender or no recipient")

func (m *Mailer) queue() Queue {
	if m.Queue == nil {
		return &m.mem
	}
	return m.Queue
}

// Submit queues the message under its Message-ID, then tries to deliver
// everything pending. When it returns an error other than from Enqueue, the
// message is safe in the queue and a later Flush delivers it.
func (m *Mailer) Submit(ctx context.Context, e *email.Email) error {
	eml, err := e.Bytes()
	if err != nil {
		return fmt.Errorf("render message: %w", err)
	}
	id := MessageID(e)
	if id == "" {
		return errors.New("reports: message has no Message-Id (use Compose)")
	}
	if err := m.queue().Enqueue(id, eml); err != nil {
		return fmt.Errorf("queue message %s: %w", id, err)
	}
	_, err = m.Flush(ctx)
	return err
}

// Flush delivers every pending message, oldest first, and marks each one
// sent right after its delivery. It stops at the first failure (the server
// is probably down; the rest wait for the next Flush) and reports how many
// were sent.
func (m *Mailer) Flush(ctx context.Context) (sent int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue()
	pending, err := q.Pending()
	if err != nil {
		return 0, fmt.Errorf("read mail queue: %w", err)
	}
	for _, p := range pending {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		if err := m.deliver(ctx, p); err != nil {
			return sent, fmt.Errorf("deliver %s: %w", p.ID, err)
		}
		if err := q.MarkSent(p.ID); err != nil {
			return sent, fmt.Errorf("mark %s sent: %w", p.ID, err)
		}
		sent++
	}
	return sent, nil
}

func (m *Mailer) deliver(ctx context.Context, p Queued) error {
	if m.SMTP.Host == "" {
		if m.Outbox == "" {
			return errors.New("reports: neither an SMTP host nor an outbox directory is configured")
		}
		return writeFileAtomic(OutboxPath(m.Outbox, p.ID), p.EML)
	}
	from, rcpts, err := envelopeOf(p.EML)
	if err != nil {
		return err
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, release, err := m.dial(ctx)
	if err != nil {
		return err
	}
	defer release()
	if m.SMTP.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", m.SMTP.Username, m.SMTP.Password)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.SendMail(from, rcpts, bytes.NewReader(p.EML)); err != nil {
		return err
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return nil
}

// dial connects and secures the connection as configured. The connection
// is closed if ctx ends first; release closes the client and stops watching
// ctx.
func (m *Mailer) dial(ctx context.Context) (c *smtp.Client, release func(), err error) {
	port := m.SMTP.Port
	mode := strings.ToLower(m.SMTP.TLS)
	if mode == "" {
		mode = TLSStartTLS
	}
	if port == 0 {
		port = 587
		if mode == TLSImplicit {
			port = 465
		}
	}
	addr := net.JoinHostPort(m.SMTP.Host, strconv.Itoa(port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	ok := false
	defer func() {
		if !ok {
			stop()
			conn.Close()
		}
	}()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.TLSConfig != nil {
		tc = m.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = m.SMTP.Host
	}
	switch mode {
	case TLSImplicit:
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("smtp tls: %w", err)
		}
		c = smtp.NewClient(tconn)
	case TLSStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, tc); err != nil {
			return nil, nil, fmt.Errorf("smtp starttls: %w", err)
		}
	case TLSNone:
		if !isLoopback(m.SMTP.Host) {
			return nil, nil, fmt.Errorf("reports: smtp tls %q is only allowed for a loopback host, not %s", TLSNone, m.SMTP.Host)
		}
		c = smtp.NewClient(conn)
	default:
		return nil, nil, fmt.Errorf("reports: unknown smtp tls mode %q (starttls, implicit or none)", m.SMTP.TLS)
	}
	ok = true
	return c, func() { stop(); c.Close() }, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// envelopeOf reads the sender and recipients of a queued message from its
// own headers (From, To, Cc).
func envelopeOf(eml []byte) (string, []string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(eml))
	if err != nil {
		return "", nil, fmt.Errorf("parse queued message: %w", err)
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return "", nil, fmt.Errorf("%w: From: %v", ErrNoRecipients, err)
	}
	var rcpts []string
	for _, h := range []string{"To", "Cc"} {
		if msg.Header.Get(h) == "" {
			continue
		}
		list, err := msg.Header.AddressList(h)
		if err != nil {
			return "", nil, fmt.Errorf("parse %s: %w", h, err)
		}
		for _, a := range list {
			rcpts = append(rcpts, a.Address)
		}
	}
	if len(rcpts) == 0 {
		return "", nil, ErrNoRecipients
	}
	return from.Address, rcpts, nil
}

// OutboxPath is where a message with this id is written without SMTP:
// the id with its angle brackets removed and unsafe characters replaced.
func OutboxPath(dir, id string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '@':
			return r
		}
		return '_'
	}, strings.Trim(id, "<>"))
	return filepath.Join(dir, name+".eml")
}
