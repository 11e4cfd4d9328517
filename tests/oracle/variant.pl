#!/usr/bin/perl
# Rewrites an ldirectord file for the table oracle (tests/oracle/ldirectord-table.sh):
#
#   variant.pl on FILE          every virtual gets `checktype=on` (so every real is up without any
#                               network), except where the file says checktype=off.
#   variant.pl loopback FILE    real= IPv4 addresses outside 127/8 become loopback addresses
#                               127.2.X.Y (ranges: 127.3.K.1->...) (one per distinct address, in order of appearance);
#                               prints the mapping on stderr as `ORIGINAL LOOPBACK` lines.
#
# Both drop the global lines that would reach outside the test (emailalert*, execute=,
# logfile=, supervised=); none of them changes the IPVS table. Block boundaries follow
# ldirectord: `virtual=`/`virtual6=` in column 0 opens a block, which goes on while lines
# (TABs counted as 4 blanks, comments skipped) are indented by 4 or more blanks.
use strict;
use warnings;

my ($mode, $file) = @ARGV;
die "usage: variant.pl on|loopback FILE\n" unless defined $file && $mode =~ /^(on|loopback)$/;
open(my $f, "<", $file) or die "$file: $!\n";
my @lines = <$f>;
close $f;

my $in_block = 0;
my %map;
my $next = 0;
my $ranges = 0;
sub loopback_for {
    my ($a) = @_;
    unless (exists $map{$a}) {
        $next++;
        $map{$a} = sprintf("127.2.%d.%d", int($next / 250), $next % 250 + 1);
        print STDERR "$a $map{$a}\n";
    }
    return $map{$a};
}

for my $line (@lines) {
    my $expanded = $line;
    $expanded =~ s/\t/    /g;
    if ($line =~ /^(virtual6?)\s*=/) {
        $in_block = 1;
        print $line;
        print "    checktype=on\n" if $mode eq 'on';
        next;
    }
    if ($in_block) {
        if ($expanded =~ /^\s*#/) { print $line; next }
        if ($expanded =~ /^ {4,}\S/) {
            if ($mode eq 'on' && $expanded =~ /^\s+checktype\s*=\s*(\S+)/ && $1 ne 'off') {
                print "    checktype=on\n";
                next;
            }
            if ($mode eq 'loopback' && $expanded =~ /^(\s+real\s*=\s*)((?!127\.)\d+\.\d+\.\d+\.\d+)(?:->(\d+\.\d+\.\d+\.\d+))?(.*)$/s) {
                my ($head, $from, $to, $rest) = ($1, $2, $3, $4);
                if (defined $to) {
                    # a range: keep its size, in a loopback /24 of its own (127.3.K.1->...)
                    my @a = split /\./, $from;
                    my @b = split /\./, $to;
                    if ("@a[0 .. 2]" eq "@b[0 .. 2]" && $b[3] >= $a[3]) {
                        $ranges++;
                        my $l = "127.3.$ranges.1->127.3.$ranges." . (1 + $b[3] - $a[3]);
                        print STDERR "$from->$to $l\n";
                        print $head, $l, $rest;
                    } else {
                        print $line;
                    }
                } else {
                    print $head, loopback_for($from), $rest;
                }
                next;
            }
            print $line;
            next;
        }
        $in_block = 0;
    }
    next if $line =~ /^(emailalert\w*|execute|logfile|supervised)\s*=/;
    print $line;
}
