package marker

// Bind evaluates the part of a marker that env decides, in the Metadata
// context: every comparison whose variable env holds is replaced by its
// value, and the "and"/"or" around it folded (a comparison of two literals
// or two variables is an error, as in Evaluate). A variable
// absent from env stays, including "extra", "extras" and
// "dependency_groups" (which Evaluate treats as empty when absent).
//
// When env decides the whole marker, decided is true, value is its value
// and rest is the empty Expr; otherwise rest is what remains to be
// decided, and value is meaningless. Binding {"extra": "socks"} to a
// Requires-Dist marker such as `python_version < "3.8" and extra ==
// "socks"` leaves `python_version < "3.8"`.
func (e Expr) Bind(env Env) (rest Expr, value, decided bool, err error) {
	if e.root == nil {
		return Expr{}, true, true, nil
	}
	p, err := bind(e.root, env)
	if err != nil {
		return Expr{}, false, false, err
	}
	if p.known {
		return Expr{}, p.value, true, nil
	}
	return Expr{root: p.n}, false, false, nil
}

// partial is a node bound to an environment: a constant (known) or the
// node that remains.
type partial struct {
	n     node
	value bool
	known bool
}

func bind(n node, env Env) (partial, error) {
	switch n := n.(type) {
	case *cmpNode:
		for _, o := range []operand{n.left, n.right} {
			if _, ok := env[o.text]; o.isVar && !ok {
				return partial{n: n}, nil
			}
		}
		v, err := n.eval(&evalState{env: env, ctx: Metadata})
		if err != nil {
			return partial{}, err
		}
		return partial{value: v, known: true}, nil
	case *boolNode:
		// In "or" a true item decides, a false one drops out; in "and"
		// the other way round. Every item is bound, so that an error
		// anywhere is reported as Evaluate would report it.
		decisive, decided := n.or, false
		var rest []node
		for _, item := range n.items {
			p, err := bind(item, env)
			if err != nil {
				return partial{}, err
			}
			switch {
			case p.known && p.value == decisive:
				decided = true
			case !p.known:
				rest = append(rest, p.n)
			}
		}
		switch {
		case decided:
			return partial{value: decisive, known: true}, nil
		case len(rest) == 0:
			return partial{value: !decisive, known: true}, nil
		case len(rest) == 1:
			return partial{n: rest[0]}, nil
		}
		return partial{n: &boolNode{or: n.or, items: rest}}, nil
	}
	return partial{n: n}, nil
}
