package config

import "flag"

// Orders configures the order life and the built-in test CA (docs/api.md,
// orders).
type Orders struct {
	ProductCatalog string // JSON file replacing the built-in catalogue
	CAAIdentities  List   // issuer domains CAA records may name
	CACert         string // the operator's issuing CA certificate (PEM)
	CAKey          string // its private key
	CAChain        string // the certificates above it
	Blocklist      string // compromised keys (-40)
}

func bindOrders(fs *flag.FlagSet, o *Orders) {
	fs.StringVar(&o.ProductCatalog, "product-catalog", "", "JSON file of the products AutoApplySSL sells (default: the built-in catalogue)")
	fs.Var(&o.CAAIdentities, "caa-identity", "issuer domain that CAA records may name to permit issuance; repeatable (default sectigo.com and dcvmail.test)")
	fs.StringVar(&o.CACert, "ca-cert", "", "PEM certificate of an issuing CA to use instead of the generated test CA")
	fs.StringVar(&o.CAKey, "ca-key", "", "PEM private key of --ca-cert")
	fs.StringVar(&o.CAChain, "ca-chain", "", "PEM certificates above --ca-cert, up to its root")
	fs.StringVar(&o.Blocklist, "key-blocklist", "", "file of compromised public keys that CSRs are refused for (-40)")
}
