package dcv

// OnPlanned makes f run between the planning of an identical resend and its
// transaction, where another writer may change the order.
func (s *Service) OnPlanned(f func()) { s.planned = f }
