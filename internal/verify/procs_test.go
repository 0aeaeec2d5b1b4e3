package verify_test

import "runtime"

func maxProcs() int { return runtime.GOMAXPROCS(0) }
