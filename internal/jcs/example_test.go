package jcs_test

import (
	"fmt"

	"github.com/fixtap/fixtap/internal/jcs"
)

func ExampleTransform() {
	out, err := jcs.Transform([]byte(`{
		"qty": 1.0E6,
		"side": "\u0042UY",
		"px": 1.08425,
		"flags": [true, null, -0]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))

	_, err = jcs.Transform([]byte(`{"a":1,"\u0061":2}`))
	fmt.Println(err)
	// Output:
	// {"flags":[true,null,0],"px":1.08425,"qty":1000000,"side":"BUY"}
	// jcs: duplicate object key at offset 7: "a"
}
