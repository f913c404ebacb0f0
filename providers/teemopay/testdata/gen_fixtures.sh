#!/usr/bin/env bash
# Regenerates the signing fixtures with the openssl CLI, independently of
# payrun's code. The keys are test-only keys, generated here, never real.
# The signed strings are written by hand below, exactly as PROVIDERS.md 3.1
# describes (fields except sign, nulls and blanks skipped, keys in ASCII
# order, then &nonce=...), so that the Go code is checked against them.
set -euo pipefail
cd "$(dirname "$0")"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out merchant_key.pem 2>/dev/null
openssl pkey -in merchant_key.pem -pubout -out merchant_pub.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out platform_key.pem 2>/dev/null
openssl pkey -in platform_key.pem -pubout -out platform_pub.pem

# A create request as payrun sends it (sign left out; the blank phone and the
# null remark are not signed).
cat > create_body.json <<'JSON'
{"merchantOrderNo":"OrderNoExample","amount":"100.00","phone":"","bankCode":"2","bankName":"INTERBANK","accountType":101,"bankAccount":"1234567899276","cciNumber":"00313000123456789912","realName":"TEEMO","idCardNumber":"12345678","idType":"DNI","callbackUrl":"https://www.callbackexample.com","remark":null}
JSON
printf '%s' 0123456789abcdef0123456789abcdef > create_nonce.txt
printf '%s' 'accountType=101&amount=100.00&bankAccount=1234567899276&bankCode=2&bankName=INTERBANK&callbackUrl=https://www.callbackexample.com&cciNumber=00313000123456789912&idCardNumber=12345678&idType=DNI&merchantOrderNo=OrderNoExample&realName=TEEMO&nonce=0123456789abcdef0123456789abcdef' > create_string.txt
openssl dgst -sha1 -sign merchant_key.pem create_string.txt | openssl base64 -A > create_sign.txt

# A callback as the platform sends it, signed with the platform key.
printf '%s' fedcba9876543210fedcba9876543210 > callback_nonce.txt
printf '%s' 'amount=1000.00&completeTime=2025-05-01 00:00:00&merchantOrderNo=OrderNoExample&serviceAmount=60.00&status=2&tradeNo=TF201806251011&nonce=fedcba9876543210fedcba9876543210' > callback_string.txt
sig=$(openssl dgst -sha1 -sign platform_key.pem callback_string.txt | openssl base64 -A)
printf '{"merchantOrderNo":"OrderNoExample","tradeNo":"TF201806251011","status":2,"amount":"1000.00","serviceAmount":"60.00","errorMessage":"","completeTime":"2025-05-01 00:00:00","sign":"%s"}\n' "$sig" > callback_body.json
