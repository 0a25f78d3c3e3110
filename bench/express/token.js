// Prints the HS256 bearer token wrk sends to the "full chain" rows (seed 003's claims: userId, role),
// signed with JWT_SECRET and valid for a day, so verification succeeds for the whole run.
const jwt = require('jsonwebtoken');
const secret = process.env.JWT_SECRET || 'your-secret-key';
process.stdout.write(jwt.sign({ userId: '42', role: 'admin', email: 'bench@example.com' }, secret, { expiresIn: '24h' }));
