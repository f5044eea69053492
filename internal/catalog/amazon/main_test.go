package amazon_test

import (
	"os"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
)

// One moto_server for the package; each test has its own front and names.
func TestMain(m *testing.M) { os.Exit(amazontest.Main(m)) }
