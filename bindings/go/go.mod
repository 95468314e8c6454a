module evdb.dev/evdb

go 1.19
