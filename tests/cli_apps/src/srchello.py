from kolben import Kolben

app = Kolben("srchello")
