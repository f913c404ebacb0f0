module github.com/payrun/payrun

go 1.26.8
