package marker

// Bind evaluates the part of a marker that env decides: every comparison
// whose variables env all holds (and any between two literals) is
// replaced by its value, and the "and"/"or" around it folded. A variable
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
		v, err := n.eval(env)
		if err != nil {
			return partial{}, err
		}
		return partial{value: v, known: true}, nil
	case *boolNode:
		l, err := bind(n.left, env)
		if err != nil {
			return partial{}, err
		}
		r, err := bind(n.right, env)
		if err != nil {
			return partial{}, err
		}
		// In "or" a true side decides, a false one drops out; in "and"
		// the other way round.
		decisive := n.or
		switch {
		case l.known && l.value == decisive, r.known && r.value == decisive:
			return partial{value: decisive, known: true}, nil
		case l.known && r.known:
			return partial{value: !decisive, known: true}, nil
		case l.known:
			return r, nil
		case r.known:
			return l, nil
		}
		return partial{n: &boolNode{or: n.or, left: l.n, right: r.n}}, nil
	}
	return partial{n: n}, nil
}
