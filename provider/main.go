package main

// main is required by -buildmode=c-shared and never runs: the application
// that loads the library calls C_GetFunctionList and the C_ functions.
func main() {}
