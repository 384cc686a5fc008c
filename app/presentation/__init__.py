"""Qt-free presentation: the words, times and colours the console and the command line
show (banner and status sentences, ledger events told as sentences, relative and UTC
times). Imports only the domain, so anything that speaks to people can use it and tests
read the wording without a window."""
