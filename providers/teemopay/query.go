package teemopay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Lookup queries a payout by merchantOrderNo (refs.PayoutID) with POST
// /api/pay/payout/query/v1. ErrNotFound ("Order not found") proves the
// payout was never created, so it is safe to send. Errors of the query
// itself are never in doubt: a query creates nothing.
func (c *Client) Lookup(ctx context.Context, refs providers.Refs) (providers.Status, error) {
	if refs.PayoutID == "" {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: opLookup, Message: "TeemoPay looks payouts up by merchantOrderNo: Refs.PayoutID is empty", Kind: providers.ErrUnsupported}
	}
	var data queryData
	if err := c.call(ctx, opLookup, pathQuery, queryRequest{MerchantOrderNo: refs.PayoutID}, &data); err != nil {
		return providers.Status{}, err
	}
	st, err := queryStatus(data)
	if err != nil {
		return providers.Status{}, apiError(opLookup, 0, 0, err.Error(), providers.ErrUnavailable)
	}
	st.Refs.Method = refs.Method
	if st.Refs.PayoutID == "" {
		st.Refs.PayoutID = refs.PayoutID
	}
	return st, nil
}

// queryStatus maps a query answer to a status.
func queryStatus(d queryData) (providers.Status, error) {
	return finalStatus(d.MerchantOrderNo, d.TradeNo, int(d.Status), string(d.Amount), string(d.ServiceAmount),
		string(d.ErrorCode), d.ErrorMessage, d.CompleteTime)
}

// finalStatus is the mapping the query and the callback share: status 1
// Processing, 2 Succeeded, 3 Failed (errorCode 1000, 1001, 1002, 9999), 4
// Reversed (refunded after success); serviceAmount is the fee; completeTime
// is Lima local time.
func finalStatus(orderNo, tradeNo string, status int, amount, fee, code, msg, completeTime string) (providers.Status, error) {
	outcome, err := outcomeOf(status)
	if err != nil {
		return providers.Status{}, err
	}
	st := providers.Status{
		Outcome:   outcome,
		Refs:      providers.Refs{PayoutID: orderNo, ProviderID: tradeNo},
		RawStatus: strconv.Itoa(status),
	}
	if outcome == providers.Failed || outcome == providers.Reversed {
		st.Code, st.Message = code, msg
	}
	if amount != "" {
		if st.Amount, err = parseAmount(amount); err != nil {
			return providers.Status{}, err
		}
	}
	if st.Fee, err = parseFee(fee); err != nil {
		return providers.Status{}, err
	}
	if st.At, err = parseCompleteTime(completeTime); err != nil {
		return providers.Status{}, err
	}
	return st, nil
}

func outcomeOf(status int) (providers.Outcome, error) {
	switch status {
	case statusProcessing:
		return providers.Processing, nil
	case StatusSuccess:
		return providers.Succeeded, nil
	case statusFailed:
		return providers.Failed, nil
	case statusRefunded:
		return providers.Reversed, nil
	}
	return "", errUnknownStatus(status)
}

// statusWord names a status for Event.Type.
func statusWord(status int) string {
	switch status {
	case statusProcessing:
		return "processing"
	case StatusSuccess:
		return "success"
	case statusFailed:
		return "failed"
	case statusRefunded:
		return "refunded"
	}
	return "status_" + strconv.Itoa(status)
}

func errUnknownStatus(s int) error { return fmt.Errorf("teemopay: unknown payout status %d", s) }

// parseAmount reads a soles amount ("100.00") exactly.
func parseAmount(s string) (money.Money, error) {
	m, err := money.Parse(s, "PEN")
	if err != nil {
		return money.Money{}, fmt.Errorf("teemopay: amount %q: %w", s, err)
	}
	return m, nil
}

// parseFee reads serviceAmount in céntimos; blank and zero are no fee.
func parseFee(s string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	v, err := money.ParseMinor(s, 2)
	if errors.Is(err, money.ErrZero) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("teemopay: serviceAmount %q: %w", s, err)
	}
	return v, nil
}

// CompleteTimeLayout is TeemoPay's "yyyy-MM-dd HH:mm:ss", in Peru's time.
const CompleteTimeLayout = "2006-01-02 15:04:05"

// lima is America/Lima, or its fixed UTC-5 (no DST since 1994) where the
// system has no zone database.
var lima = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("America/Lima"); err == nil {
		return loc
	}
	return time.FixedZone("PET", -5*60*60)
})

// Lima returns the time zone of TeemoPay's Peru timestamps.
func Lima() *time.Location { return lima() }

func parseCompleteTime(s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(CompleteTimeLayout, strings.TrimSpace(s), lima())
	if err != nil {
		return time.Time{}, fmt.Errorf("teemopay: completeTime %q: %w", s, err)
	}
	return t, nil
}
