package providers

// Columns of the canonical payout file (DESIGN.md "Input file"), as a
// provider's rules name them.
const (
	ColumnPayoutID            = "payout_id"
	ColumnProvider            = "provider"
	ColumnMethod              = "method"
	ColumnCountry             = "country"
	ColumnCurrency            = "currency"
	ColumnAmount              = "amount"
	ColumnBeneficiaryName     = "beneficiary_name"
	ColumnBeneficiaryLastName = "beneficiary_last_name"
	ColumnEmail               = "email"
	ColumnPhone               = "phone"
	ColumnDocumentType        = "document_type"
	ColumnDocumentNumber      = "document_number"
	ColumnBankCode            = "bank_code"
	ColumnAccountType         = "account_type"
	ColumnAccountNumber       = "account_number"
	ColumnCCI                 = "cci"
	ColumnCardToken           = "card_token"
	ColumnDescription         = "description"
)

// Rules is what a provider accepts in a payout file, declared as data
// from its documentation (PROVIDERS.md) in the provider's own package and
// carried by its Registration. The file validator (package batch) reads
// them; it knows no provider by name.
type Rules struct {
	// Label is the provider's name as its documents write it, for
	// messages ("Monnet", "Bank 131").
	Label string
	// Methods lists the methods the provider pays with, and their rules.
	Methods map[Method]MethodRules
	// Currencies the provider pays in (ISO 4217).
	Currencies []string
	// Countries the provider pays to (ISO 3166-1 alpha-2); empty = any.
	// A provider of one country takes rows that leave the country blank
	// (unless a method requires the column).
	Countries []string
	// MaxReference is the longest merchant reference (payout_id) the
	// provider takes, per country ("" = every country); 0 = the schema's 64.
	MaxReference map[string]int
	// ReferenceField is the provider's own name for payout_id, for messages.
	ReferenceField string
	// MaxDescription is the longest description; 0 = no limit.
	MaxDescription int
	// MaxFullName caps name + " " + last name (TeemoPay realName); 0 = none.
	MaxFullName int
	// DocumentTypes the provider accepts; empty = any of the schema's.
	DocumentTypes []string
	// CELength is the length range of a CE number at this provider.
	CELength [2]int
	// DocumentNotForBank: a document type some banks refuse at this
	// provider (Monnet: no RUC for Scotiabank 004).
	DocumentNotForBank map[string][]string
	// CardToken is the form of a card token this provider issues; "" = no
	// rule beyond "not a card number".
	CardToken TokenForm
}

// MethodRules are a provider's rules for one payout method.
type MethodRules struct {
	// Required lists column groups: each group needs at least one of its
	// columns filled ({"account_number", "cci"} = either will do).
	Required [][]string
	// Refused, when set, refuses every row of this method, and says why:
	// the provider lists the method but its documents do not say how to
	// pay it.
	Refused string
	// Currencies narrows the provider's currencies for this method; empty
	// = all of the provider's.
	Currencies []string
	// Limits cap the amount; the first limit whose currency (and bank
	// code, when set) matches the row applies.
	Limits []Limit
	// DescriptionForBanks: description is mandatory for these bank codes.
	DescriptionForBanks []string
	// Banks lists the bank codes (Peru's SBS codes, as in bank_code) the
	// method pays to; empty = any.
	Banks []string
	// AccountLengths: the account number lengths each bank accepts. Nil =
	// no rule.
	AccountLengths map[string][]int
	// CCIInstead: the CCI may stand in for the account number (Monnet).
	// Account lengths are then checked only on rows without a CCI, and a
	// bank missing from AccountLengths is paid by a 20-digit account
	// number, its CCI. Without it, the account number is always checked
	// and a 20-digit one (a CCI) is refused.
	CCIInstead bool
}

// Limit is a maximum amount per payout, as a decimal string.
type Limit struct {
	Currency string
	BankCode string // "" = any bank
	Max      string
	Why      string // the name of the limit in the provider's terms
}

// TokenForm is the shape of a provider's card token.
type TokenForm string

// Token forms.
const (
	TokenHex64 TokenForm = "hex64" // a 64-character hexadecimal hash (Bank 131, Smart Glocal)
)
